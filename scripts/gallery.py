"""Regenerate docs/gallery/: a contact sheet per example of the seed document.

Run from the repository root: `.venv/bin/python scripts/gallery.py`. Each example is the
seed's own request body, read by the API's request model (so every default the API fills in,
prompt_optimizer included, applies) and rendered as a sandbox job would be (seed 7). Each sheet
shows four frames across the clip, scaled down.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import av
from PIL import Image, ImageDraw

from vidgate.api.schemas import GenerationRequest
from vidgate.backends.base import VideoRequest
from vidgate.backends.local import render_request
from vidgate.engine import render

GALLERY = Path(__file__).resolve().parents[1] / "docs" / "gallery"
SEED = 7
THUMB_WIDTH = 320
MOMENTS = (0.1, 0.37, 0.63, 0.9)  # fractions of the clip
PORTRAIT_URL = "https://example.com/portrait.jpg"  # the seed's image example; drawn here

# (where in the seed document, the request body it shows)
EXAMPLES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("Example prompts: Nature",
     {"prompt": "Timelapse of clouds rolling over mountain peaks, golden hour lighting, 4K cinematic"}),
    ("Example prompts: Portrait",
     {"prompt": "Close-up of a woman's face, gentle wind blowing her hair, soft natural lighting"}),
    ("Example prompts: Action",
     {"prompt": "Sports car drifting around a corner, dust and smoke, dramatic slow motion"}),
    ("Example prompts: Abstract",
     {"prompt": "Flowing liquid metal morphing into geometric shapes, reflective surface, dark background"}),
    ("Request body example",
     {"prompt": "A timelapse of a flower blooming", "model": "fal-ai/minimax/video-01",
      "duration_seconds": 5, "resolution": "720p", "fps": 30, "aspect_ratio": "16:9",
      "mode": "text_to_video", "source_image": None, "negative_prompt": "blurry, static",
      "seed": None, "prompt_optimizer": True, "loop": False}),
    ("curl example",
     {"prompt": "A drone flyover of a tropical beach at golden hour, cinematic", "duration_seconds": 5,
      "aspect_ratio": "16:9"}),
    ("Python example: image to video",
     {"prompt": "The person slowly turns and smiles", "mode": "image_to_video",
      "source_image": PORTRAIT_URL, "duration_seconds": 3}),
    ("Python example: polling", {"prompt": "Ocean waves crashing on rocks", "duration_seconds": 5}),
)  # fmt: skip


def drawn_portrait(path: Path) -> Path:
    """The seed's image examples point at a photo we do not have: a simple drawn portrait
    stands in for it (say so in the gallery)."""
    image = Image.new("RGB", (1024, 768), (196, 214, 228))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 600, 1024, 768), fill=(92, 118, 140))
    draw.ellipse((372, 70, 652, 330), fill=(90, 60, 40))  # hair
    draw.ellipse((392, 120, 632, 440), fill=(236, 200, 170))  # face
    for x in (452, 548):
        draw.ellipse((x, 250, x + 30, 270), fill=(60, 50, 45))
    draw.arc((470, 330, 560, 380), 10, 170, fill=(170, 90, 90), width=5)
    draw.rectangle((467, 430, 557, 520), fill=(226, 190, 160))  # neck
    draw.polygon([(300, 768), (380, 510), (644, 510), (724, 768)], fill=(170, 60, 70))
    image.save(path)
    return path


def contact_sheet(video: Path, title: str, prompt: str) -> Image.Image:
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        count = stream.frames
        wanted = {min(count - 1, int(m * count)) for m in MOMENTS}
        picks = [frame.to_image() for n, frame in enumerate(container.decode(stream)) if n in wanted]
    thumb_h = round(THUMB_WIDTH * picks[0].height / picks[0].width)
    sheet = Image.new("RGB", (THUMB_WIDTH * len(picks), thumb_h + 44), (24, 24, 28))
    for index, picture in enumerate(picks):
        sheet.paste(picture.resize((THUMB_WIDTH, thumb_h), Image.Resampling.LANCZOS),
                    (index * THUMB_WIDTH, 44))
    draw = ImageDraw.Draw(sheet)
    draw.text((8, 4), title, fill=(200, 200, 210))
    draw.text((8, 22), prompt, fill=(240, 240, 240))
    return sheet


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def main() -> None:
    GALLERY.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Gallery",
        "",
        "What the local engine makes of the seed document's examples: each is the seed's own",
        "request body, rendered as a sandbox job renders it (the API's defaults, prompt_optimizer",
        f"included; seed {SEED}), four frames across the clip. Regenerate with",
        "`.venv/bin/python scripts/gallery.py`. The image-to-video example animates a simple drawn",
        "portrait, standing in for the photo the seed's example links to.",
        "",
    ]
    with tempfile.TemporaryDirectory() as scratch:
        portrait = drawn_portrait(Path(scratch) / "portrait.png")
        for title, body in EXAMPLES:
            params = {**GenerationRequest.model_validate(body).model_dump(), "model": "vidgate/local", "seed": SEED}
            request = render_request(
                VideoRequest.from_params(params), portrait if params["mode"] == "image_to_video" else None
            )
            video = Path(scratch) / "clip.mp4"
            render(request, video)
            name = f"{slug(body['prompt'])}.png"
            contact_sheet(video, title, request.prompt).save(GALLERY / name, optimize=True)
            lines += [f"## {title}", "", f"`{body['prompt']}` ({params['mode']}, "
                      f"{params['duration_seconds']:g} s)", ""]
            if request.prompt != body["prompt"]:
                lines += [f"Rendered as: `{request.prompt}`", ""]
            if params.get("negative_prompt"):
                lines += [f"Negative prompt: `{params['negative_prompt']}`", ""]
            lines += [f"![{body['prompt']}]({name})", ""]
            print(f"wrote docs/gallery/{name}")
    (GALLERY / "README.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
