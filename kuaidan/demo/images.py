"""Product pictures for the demo, drawn locally with Pillow (no downloads, no font files).

Each picture is a 600×600 PNG: a soft background in the product's colour, a simple drawing
of the kind of thing it is, and its English short name. Shapes are drawn at twice the size
and scaled down, which smooths their edges.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from kuaidan.demo.spec import ProductTemplate

SIZE = 600
SCALE = 2  # drawn at SIZE × SCALE, then reduced
IMAGES_PER_PRODUCT = 2
MEDIA_SUBDIR = "products"

RGB = tuple[int, int, int]
Point = tuple[float, float]
Box = tuple[float, float, float, float]

WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)
STEEL: RGB = (192, 198, 204)
WOOD: RGB = (128, 86, 54)
SCREEN: RGB = (34, 36, 42)
FLAME: RGB = (255, 176, 59)
GLASS: RGB = (226, 240, 246)


def hex_rgb(value: str) -> RGB:
    value = value.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """``a`` moved a fraction ``t`` of the way towards ``b``."""
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def luminance(c: RGB) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


@dataclass(frozen=True)
class Pen:
    """Draws in 600-unit coordinates on the enlarged canvas, outlining every shape."""

    draw: ImageDraw.ImageDraw
    body: RGB
    shade: RGB
    light: RGB
    ink: RGB

    @staticmethod
    def _pts(points: Sequence[Point]) -> list[Point]:
        return [(x * SCALE, y * SCALE) for x, y in points]

    @staticmethod
    def _box(box: Box) -> Box:
        return (box[0] * SCALE, box[1] * SCALE, box[2] * SCALE, box[3] * SCALE)

    def poly(self, points: Sequence[Point], fill: RGB | None = None) -> None:
        self.draw.polygon(self._pts(points), fill=fill or self.body, outline=self.ink, width=6)

    def rect(self, box: Box, fill: RGB | None = None, r: float = 0) -> None:
        self.draw.rounded_rectangle(
            self._box(box), radius=r * SCALE, fill=fill or self.body, outline=self.ink, width=6
        )

    def oval(self, box: Box, fill: RGB | None = None) -> None:
        self.draw.ellipse(self._box(box), fill=fill or self.body, outline=self.ink, width=6)

    def chord(self, box: Box, start: float, end: float, fill: RGB | None = None) -> None:
        self.draw.chord(
            self._box(box), start, end, fill=fill or self.body, outline=self.ink, width=6
        )

    def line(self, points: Sequence[Point], fill: RGB | None = None, width: float = 6) -> None:
        self.draw.line(
            self._pts(points), fill=fill or self.ink, width=round(width * SCALE), joint="curve"
        )

    def arc(
        self, box: Box, start: float, end: float, fill: RGB | None = None, width: float = 8
    ) -> None:
        self.draw.arc(self._box(box), start, end, fill=fill or self.ink, width=round(width * SCALE))


# -- clothing ---------------------------------------------------------------------------

SHORT_SLEEVES = [(230, 110), (370, 110), (470, 160), (440, 240), (400, 220), (400, 430),
                 (200, 430), (200, 220), (160, 240), (130, 160)]  # fmt: skip
LONG_SLEEVES = [(230, 110), (370, 110), (440, 150), (490, 380), (440, 395), (400, 240),
                (400, 430), (200, 430), (200, 240), (160, 395), (110, 380), (160, 150)]  # fmt: skip


def tshirt(p: Pen) -> None:
    p.poly(SHORT_SLEEVES)
    p.chord((255, 90, 345, 145), 0, 180, p.shade)


def hoodie(p: Pen) -> None:
    p.oval((225, 70, 375, 170), p.shade)
    p.poly(LONG_SLEEVES)
    p.poly([(240, 320), (360, 320), (385, 400), (215, 400)], p.shade)
    p.line([(280, 130), (280, 220)], p.light, 5)
    p.line([(320, 130), (320, 220)], p.light, 5)


def jacket(p: Pen) -> None:
    p.poly(LONG_SLEEVES)
    p.poly([(230, 110), (300, 175), (250, 190)], p.shade)
    p.poly([(370, 110), (300, 175), (350, 190)], p.shade)
    p.line([(300, 175), (300, 430)], width=5)
    p.rect((225, 300, 275, 345), p.shade, 6)
    p.rect((325, 300, 375, 345), p.shade, 6)


def romper(p: Pen) -> None:
    p.poly([(230, 120), (370, 120), (450, 165), (425, 230), (390, 215), (395, 380), (330, 430),
            (300, 400), (270, 430), (205, 380), (210, 215), (175, 230), (150, 165)])  # fmt: skip
    p.chord((260, 100, 340, 150), 0, 180, p.shade)
    for y in (190, 240, 290):
        p.oval((292, y, 308, y + 16), p.light)


def dress(p: Pen) -> None:
    p.line([(260, 70), (255, 110)], width=6)
    p.line([(340, 70), (345, 110)], width=6)
    p.poly([(245, 225), (355, 225), (460, 440), (140, 440)])
    p.poly([(250, 105), (350, 105), (365, 230), (235, 230)])
    p.rect((232, 220, 368, 245), p.shade, 8)


def trousers(p: Pen) -> None:
    p.poly([(200, 90), (400, 90), (430, 440), (325, 440), (300, 200), (275, 440), (170, 440)])
    p.rect((200, 90, 400, 122), p.shade)


# -- electronics --------------------------------------------------------------------------


def earbuds(p: Pen) -> None:
    p.rect((180, 280, 420, 430), r=60)
    p.line([(185, 330), (415, 330)], p.shade, 4)
    p.oval((292, 380, 308, 396), p.light)
    for x in (200, 320):
        p.rect((x + 25, 150, x + 55, 265), r=14)
        p.oval((x, 95, x + 80, 175))
        p.oval((x + 20, 115, x + 50, 145), p.shade)


def headphones(p: Pen) -> None:
    p.arc((160, 80, 440, 400), 180, 360, p.shade, 26)
    p.rect((130, 220, 225, 395), r=40)
    p.rect((375, 220, 470, 395), r=40)
    p.rect((210, 250, 235, 365), p.shade, 10)
    p.rect((365, 250, 390, 365), p.shade, 10)


def powerbank(p: Pen) -> None:
    p.rect((195, 85, 405, 440), r=40)
    p.poly([(310, 150), (250, 270), (295, 270), (280, 350), (350, 230), (305, 230)], p.light)
    for i in range(4):
        p.oval((250 + i * 28, 390, 266 + i * 28, 406), p.light)


def charger(p: Pen) -> None:
    p.rect((240, 95, 265, 180), STEEL, 4)
    p.rect((335, 95, 360, 180), STEEL, 4)
    p.rect((185, 170, 415, 400), r=44)
    p.rect((230, 300, 260, 350), SCREEN, 6)
    p.rect((285, 300, 315, 350), SCREEN, 6)
    p.rect((335, 295, 375, 355), SCREEN, 6)


def cable(p: Pen) -> None:
    path = [(170, 380), (190, 240), (300, 180), (410, 240), (430, 380)]
    p.line(path, p.ink, 24)
    p.line(path, p.body, 16)
    p.rect((145, 370, 195, 450), p.shade, 12)
    p.rect((405, 370, 455, 450), p.shade, 12)
    p.rect((160, 440, 180, 470), STEEL, 4)
    p.rect((420, 440, 440, 470), STEEL, 4)


def phonecase(p: Pen) -> None:
    p.rect((200, 75, 400, 450), r=48)
    p.rect((222, 98, 315, 190), p.shade, 24)
    p.oval((232, 108, 267, 143), SCREEN)
    p.oval((272, 145, 307, 180), SCREEN)
    p.oval((278, 108, 300, 130), p.light)


def speaker(p: Pen) -> None:
    p.arc((250, 90, 350, 200), 180, 360, p.shade, 14)
    p.rect((170, 140, 430, 410), r=120)
    for row in range(5):
        for col in range(7):
            x, y = 205 + col * 30, 200 + row * 30
            p.draw.ellipse(Pen._box((x, y, x + 12, y + 12)), fill=p.shade)


def watch(p: Pen) -> None:
    p.rect((250, 55, 350, 465), p.shade, 20)
    p.rect((200, 145, 400, 375), r=60)
    p.rect((222, 167, 378, 353), SCREEN, 44)
    p.rect((400, 230, 418, 290), p.shade, 6)
    p.arc((255, 205, 345, 315), 135, 405, p.light, 9)


# -- outdoor ------------------------------------------------------------------------------


def tent(p: Pen) -> None:
    p.line([(90, 430), (510, 430)], width=6)
    p.poly([(300, 95), (485, 425), (115, 425)])
    p.poly([(300, 200), (365, 425), (235, 425)], p.shade)
    p.line([(300, 95), (300, 60)], width=6)


def backpack(p: Pen) -> None:
    p.arc((255, 70, 345, 160), 180, 360, p.shade, 14)
    p.rect((180, 115, 420, 445), r=70)
    p.chord((180, 115, 420, 260), 180, 360, p.shade)
    p.rect((215, 290, 385, 420), p.shade, 30)
    p.line([(250, 330), (350, 330)], p.light, 5)


def lantern(p: Pen) -> None:
    p.arc((230, 55, 370, 185), 180, 360, width=10)
    p.rect((215, 115, 385, 160), r=12)
    p.rect((235, 160, 365, 380), (255, 236, 170), 20)
    p.poly([(300, 215), (325, 275), (300, 320), (275, 275)], FLAME)
    p.rect((205, 375, 395, 425), r=12)


def chair(p: Pen) -> None:
    p.line([(170, 440), (420, 250)], width=10)
    p.line([(430, 440), (180, 250)], width=10)
    p.chord((150, 60, 450, 360), 10, 170)
    p.chord((190, 110, 410, 330), 20, 160, p.shade)


def sleepingbag(p: Pen) -> None:
    p.rect((140, 190, 460, 390), r=100)
    p.oval((140, 190, 240, 390), p.shade)
    p.oval((165, 240, 215, 340), p.light)
    p.rect((290, 182, 312, 398), SCREEN, 6)
    p.rect((385, 182, 407, 398), SCREEN, 6)


def shoe(p: Pen) -> None:
    p.poly([(160, 150), (300, 140), (305, 280), (440, 320), (455, 395), (150, 395)])
    p.rect((140, 390, 465, 430), p.shade, 14)
    for y in (180, 215, 250):
        p.line([(245, y), (300, y + 8)], p.light, 6)


def poles(p: Pen) -> None:
    for top, bottom in (((235, 150), (265, 440)), ((360, 150), (335, 440))):
        p.line([top, bottom], STEEL, 12)
        p.oval((bottom[0] - 30, 395, bottom[0] + 30, 415), p.shade)
        p.rect((top[0] - 20, 70, top[0] + 20, 180), r=16)


def flask(p: Pen) -> None:
    p.rect((230, 150, 370, 445), r=50)
    p.rect((250, 85, 350, 160), p.shade, 18)
    p.rect((230, 240, 370, 262), p.light)


# -- kitchen ------------------------------------------------------------------------------


def wok(p: Pen) -> None:
    p.rect((410, 262, 530, 298), WOOD, 16)
    p.rect((60, 268, 130, 292), STEEL, 12)
    p.oval((110, 160, 430, 400), p.shade)
    p.oval((140, 185, 400, 375))


def pan(p: Pen) -> None:
    p.rect((400, 265, 560, 300), SCREEN, 16)
    p.oval((80, 150, 420, 420), p.shade)
    p.oval((110, 180, 390, 390))


def pot(p: Pen) -> None:
    p.rect((130, 270, 180, 300), p.shade, 12)
    p.rect((420, 270, 470, 300), p.shade, 12)
    p.rect((165, 220, 435, 425), r=50)
    p.chord((165, 150, 435, 290), 180, 360, p.shade)
    p.oval((275, 135, 325, 170), p.light)


def knife(p: Pen) -> None:
    p.poly([(90, 330), (400, 250), (410, 330), (120, 360)])
    for y in (290, 310):
        p.line([(160, y + 40), (390, y - 10)], p.light, 4)
    p.rect((405, 262, 520, 322), WOOD, 18)


def cleaver(p: Pen) -> None:
    p.rect((120, 165, 395, 365), r=12)
    p.oval((140, 185, 175, 220), p.light)
    p.rect((395, 240, 515, 292), SCREEN, 18)


def bowl(p: Pen) -> None:
    p.rect((245, 405, 355, 440), p.shade, 8)
    p.chord((140, 150, 460, 450), 0, 180)
    p.oval((140, 270, 460, 330), p.light)
    for x in (200, 260, 320, 380):
        p.arc((x - 20, 350, x + 20, 390), 200, 340, p.shade, 4)


def chopsticks(p: Pen) -> None:
    p.line([(190, 450), (320, 85)], p.body, 16)
    p.line([(260, 455), (370, 90)], p.body, 16)
    p.line([(300, 140), (320, 85)], p.light, 16)
    p.line([(355, 140), (370, 90)], p.light, 16)


def kettle(p: Pen) -> None:
    p.arc((330, 170, 470, 390), 270, 90, p.shade, 24)
    p.poly([(225, 250), (150, 170), (135, 185), (205, 300)])
    p.poly([(215, 185), (385, 185), (405, 410), (195, 410)])
    p.oval((225, 160, 375, 205), p.shade)
    p.rect((185, 405, 415, 435), SCREEN, 10)


def ricecooker(p: Pen) -> None:
    p.arc((235, 110, 365, 200), 180, 360, p.shade, 12)
    p.rect((155, 200, 445, 425), r=60)
    p.chord((155, 140, 445, 300), 180, 360, p.shade)
    p.rect((240, 320, 360, 375), SCREEN, 14)


def airfryer(p: Pen) -> None:
    p.rect((180, 85, 420, 445), r=50)
    p.rect((220, 115, 380, 175), SCREEN, 14)
    p.rect((215, 225, 385, 325), (70, 64, 58), 22)
    p.rect((255, 345, 345, 375), p.shade, 10)


def blender(p: Pen) -> None:
    p.poly([(220, 110), (380, 110), (360, 330), (240, 330)], GLASS)
    p.rect((210, 85, 390, 118), p.shade, 10)
    p.rect((205, 320, 395, 440), r=24)
    p.oval((280, 360, 320, 400), p.light)


# -- beauty and baby -----------------------------------------------------------------------


def bottle(p: Pen) -> None:
    p.rect((270, 110, 290, 160), p.shade)
    p.rect((255, 100, 345, 118), p.shade, 6)
    p.rect((265, 150, 335, 190), p.shade, 8)
    p.rect((215, 185, 385, 440), r=45)
    p.rect((245, 260, 355, 360), p.light, 10)


def dropper(p: Pen) -> None:
    p.oval((262, 80, 338, 200), p.shade)
    p.rect((255, 180, 345, 235), SCREEN, 10)
    p.rect((225, 225, 375, 445), r=40)
    p.rect((250, 300, 350, 380), p.light, 8)


def perfume(p: Pen) -> None:
    p.rect((245, 95, 355, 185), (217, 192, 140), 10)
    p.rect((275, 180, 325, 220), STEEL)
    p.rect((175, 215, 425, 435), r=30)
    p.rect((230, 290, 370, 360), p.light, 6)


def tube(p: Pen) -> None:
    p.rect((225, 85, 375, 110), p.shade, 4)
    p.poly([(225, 105), (375, 105), (350, 380), (250, 380)])
    p.rect((255, 378, 345, 445), p.shade, 12)
    p.rect((260, 180, 340, 290), p.light, 8)


def jar(p: Pen) -> None:
    p.rect((200, 205, 400, 425), r=40)
    p.rect((185, 150, 415, 215), p.shade, 16)
    p.rect((235, 270, 365, 360), p.light, 10)


def candle(p: Pen) -> None:
    p.rect((200, 180, 400, 435), r=26)
    p.oval((210, 170, 390, 215), p.light)
    p.line([(300, 190), (300, 150)], width=5)
    p.poly([(300, 85), (322, 125), (300, 152), (278, 125)], FLAME)
    p.rect((240, 290, 360, 370), WHITE, 8)


def compact(p: Pen) -> None:
    p.oval((150, 60, 450, 280))
    p.oval((180, 85, 420, 255), GLASS)
    p.oval((150, 250, 450, 440), p.shade)
    p.oval((190, 280, 410, 410), p.body)


def palette(p: Pen) -> None:
    p.rect((140, 120, 460, 420), SCREEN, 30)
    tones = (p.light, p.body, p.shade)
    for row in range(3):
        for col in range(3):
            x, y = 170 + col * 95, 150 + row * 90
            p.rect((x, y, x + 75, y + 70), mix(tones[(row + col) % 3], WHITE, row * 0.12), 14)


def pencil(p: Pen) -> None:
    p.poly([(175, 470), (130, 425), (395, 160), (440, 205)])
    p.poly([(395, 160), (440, 205), (480, 120)], (233, 201, 143))
    p.poly([(462, 158), (470, 140), (480, 120), (455, 130)], p.shade)


def lipstick(p: Pen) -> None:
    p.poly([(262, 205), (338, 205), (338, 135), (262, 95)])
    p.rect((250, 200, 350, 270), (217, 192, 140), 6)
    p.rect((235, 265, 365, 445), SCREEN, 12)
    p.rect((390, 290, 470, 445), SCREEN, 12)


def mask(p: Pen) -> None:
    p.oval((185, 75, 415, 445), p.light)
    p.oval((225, 190, 285, 225), p.shade)
    p.oval((315, 190, 375, 225), p.shade)
    p.chord((250, 330, 350, 390), 0, 180, p.shade)


def wipes(p: Pen) -> None:
    p.rect((140, 160, 460, 410), r=60)
    p.oval((225, 195, 375, 255), p.light)
    p.poly([(270, 225), (330, 225), (340, 160), (260, 160)], WHITE)
    p.rect((200, 300, 400, 370), WHITE, 14)


def bear(p: Pen) -> None:
    p.oval((195, 225, 405, 445))
    p.oval((195, 75, 255, 135))
    p.oval((345, 75, 405, 135))
    p.oval((205, 90, 395, 265))
    p.oval((260, 180, 340, 245), p.light)
    p.oval((290, 190, 310, 205), SCREEN)
    for x in (250, 332):
        p.oval((x, 150, x + 18, 168), SCREEN)


def blocks(p: Pen) -> None:
    p.rect((165, 305, 290, 430), r=8)
    p.rect((310, 305, 435, 430), p.shade, 8)
    p.rect((238, 185, 362, 305), p.light, 8)
    p.poly([(238, 185), (362, 185), (300, 95)], p.shade)


SHAPES: dict[str, Callable[[Pen], None]] = {
    fn.__name__: fn
    for fn in (
        tshirt, hoodie, jacket, romper, dress, trousers,
        earbuds, headphones, powerbank, charger, cable, phonecase, speaker, watch,
        tent, backpack, lantern, chair, sleepingbag, shoe, poles, flask,
        wok, pan, pot, knife, cleaver, bowl, chopsticks, kettle, ricecooker, airfryer, blender,
        bottle, dropper, perfume, tube, jar, candle, compact, palette, pencil, lipstick, mask,
        wipes, bear, blocks,
    )
}  # fmt: skip


# -- composing a picture ------------------------------------------------------------------


def _backdrop(colour: RGB) -> RGB:
    """The colour the background is tinted with: the product's own, unless nearly white."""
    return colour if luminance(colour) < 215 else (138, 166, 193)


def _background(colour: RGB, variant: int) -> Image.Image:
    base = _backdrop(colour)
    top = mix(base, WHITE, 0.78 if variant == 1 else 0.9)
    bottom = mix(base, WHITE, 0.94 if variant == 1 else 0.7)
    side = SIZE * SCALE
    mask = Image.linear_gradient("L").resize((side, side))
    return Image.composite(
        Image.new("RGB", (side, side), bottom), Image.new("RGB", (side, side), top), mask
    )


def _label(image: Image.Image, text: str) -> None:
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=38)
    x, y = SIZE / 2, SIZE - 62
    left, top, right, bottom = draw.textbbox((x, y), text, font=font, anchor="mm")
    draw.rounded_rectangle((left - 22, top - 14, right + 22, bottom + 14), radius=22, fill=WHITE)
    draw.text((x, y), text, font=font, anchor="mm", fill=(40, 42, 48))


def render(shape: str, colour_hex: str, label: str, *, variant: int = 1) -> Image.Image:
    """One 600×600 picture of ``shape`` in ``colour_hex``, captioned with ``label``."""
    colour = hex_rgb(colour_hex)
    image = _background(colour, variant)
    draw = ImageDraw.Draw(image)
    if variant != 1:
        draw.ellipse(Pen._box((70, 20, 530, 480)), fill=mix(_backdrop(colour), WHITE, 0.55))
    ink = mix(colour, BLACK, 0.55) if luminance(colour) > 60 else mix(colour, WHITE, 0.35)
    pen = Pen(draw, colour, mix(colour, BLACK, 0.28), mix(colour, WHITE, 0.55), ink)
    SHAPES[shape](pen)
    small = image.reduce(SCALE)
    _label(small, label)
    return small


def image_paths(template: ProductTemplate) -> list[str]:
    """The media-relative paths of a product's pictures (``products/<key>/<n>.png``)."""
    count = max(IMAGES_PER_PRODUCT, len(template.colours))  # one per colour, in its order
    return [f"{MEDIA_SUBDIR}/{template.image_key}/{n}.png" for n in range(1, count + 1)]


def draw_product_images(template: ProductTemplate, media_dir: Path) -> int:
    """Write the product's pictures under ``media_dir``; those already there are kept.

    Returns how many files were written. Picture n is in the n-th colour, so the product page
    shows the chosen colour's picture; a product of one colour gets two, on two backgrounds.
    """
    written = 0
    palette_ = template.colours
    for n, relative in enumerate(image_paths(template), start=1):
        target = media_dir / relative
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        picture = render(
            template.shape, palette_[(n - 1) % len(palette_)], template.short_en, variant=n
        )
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        picture.save(tmp, format="PNG", compress_level=3)
        tmp.replace(target)
        written += 1
    return written
