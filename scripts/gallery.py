"""Regenerate docs/gallery/: a contact sheet per example prompt of the seed document.

Run from the repository root: `.venv/bin/python scripts/gallery.py`. Each sheet shows four
frames across a 5 s clip rendered by the local engine (720p, seed 7), scaled down.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import av
from PIL import Image, ImageDraw

from vidgate.engine import RenderRequest, render
from vidgate.media.dimensions import output_dimensions

GALLERY = Path(__file__).resolve().parents[1] / "docs" / "gallery"
SEED = 7
THUMB_WIDTH = 320
MOMENTS = (0.1, 0.37, 0.63, 0.9)  # fractions of the clip

# (where in the seed document, prompt, mode)
EXAMPLES = (
    ("Example prompts: Nature",
     "Timelapse of clouds rolling over mountain peaks, golden hour lighting, 4K cinematic", "text_to_video"),
    ("Example prompts: Portrait",
     "Close-up of a woman's face, gentle wind blowing her hair, soft natural lighting", "image_to_video"),
    ("Example prompts: Action",
     "Sports car drifting around a corner, dust and smoke, dramatic slow motion", "text_to_video"),
    ("Example prompts: Abstract",
     "Flowing liquid metal morphing into geometric shapes, reflective surface, dark background",
     "text_to_video"),
    ("Request body example", "A timelapse of a flower blooming", "text_to_video"),
    ("curl example", "A drone flyover of a tropical beach at golden hour, cinematic", "text_to_video"),
    ("Python example: image to video", "The person slowly turns and smiles", "image_to_video"),
    ("Python example: polling", "Ocean waves crashing on rocks", "text_to_video"),
)


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
        frames = [frame.to_image() for frame in container.decode(stream)]
    picks = [frames[min(len(frames) - 1, int(m * len(frames)))] for m in MOMENTS]
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
    width, height = output_dimensions("720p", "16:9")
    lines = [
        "# Gallery",
        "",
        "What the local engine makes of the seed document's example prompts: four frames across",
        f"each 5 s 720p clip (seed {SEED}). Regenerate with `.venv/bin/python scripts/gallery.py`.",
        "The image-to-video examples animate a simple drawn portrait, standing in for the photo",
        "the seed's examples link to.",
        "",
    ]
    with tempfile.TemporaryDirectory() as scratch:
        portrait = drawn_portrait(Path(scratch) / "portrait.png")
        for title, prompt, mode in EXAMPLES:
            video = Path(scratch) / "clip.mp4"
            request = RenderRequest(
                mode=mode, prompt=prompt, width=width, height=height, fps=30,
                duration_seconds=5, seed=SEED,
                source_image=portrait if mode == "image_to_video" else None,
            )
            render(request, video)
            name = f"{slug(prompt)}.png"
            contact_sheet(video, title, prompt).save(GALLERY / name, optimize=True)
            lines += [f"## {title}", "", f"`{prompt}` ({mode})", "", f"![{prompt}]({name})", ""]
            print(f"wrote docs/gallery/{name}")
    (GALLERY / "README.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
