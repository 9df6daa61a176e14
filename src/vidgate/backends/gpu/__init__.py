"""Open video models on this machine's GPU through Hugging Face diffusers (the `gpu` extra),
from diffusers-format folders on disk, on the `gpu` lane."""
