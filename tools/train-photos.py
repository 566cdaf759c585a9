#!/usr/bin/python3
"""Copies the photographs chosen from unpacked Debian packages into the training folder.

Usage: train-photos.py PKGDIR DIR   (run by tools/train-data.sh)

PKGDIR holds each package unpacked by `dpkg-deb -x` in PKGDIR/<package> next to its .deb. Every
photograph is converted to RGB JPEG (quality 92), turned upright (by its EXIF orientation, or by
KPhotoAlbum's index.xml) and scaled to at most 1024 px on its longer side, and saved as
DIR/<prefix>-<name>.jpg. Prints one Markdown table
row (file | author | licence | source) per photograph on stdout. Exits 1 with a one-line message
when a file, a licence statement or Pillow is missing.

The lists below were chosen by eye on contact sheets: only real photographs (no drawings, renders,
screenshots, textures or composites), shorter side at least 256 px, with an author and a free licence
stated by the package (its copyright file or the credits file next to the images).
"""
import glob
import io
import os
import re
import struct
import subprocess
import sys
import zlib

try:
    from PIL import Image, ImageOps
except ImportError:
    sys.exit("train-data: needs /usr/bin/python3 with Pillow (apt-get install python3-pil)")

MAX_SIDE = 1024

# KPhotoAlbum's demo album (photographs by its authors; the package is GPL-2+ as a whole).
KPHOTOALBUM = ["anne_helene", "bar55", "bar55_2", "blackie", "cold_water", "donna", "donna_2",
               "grand_canyon_1", "grand_canyon_2", "grand_canyon_3", "jesper", "jesper_2",
               "new_wave_1", "new_wave_2", "pool", "pool_2", "qt-logo", "skagen", "skagen_2", "snow",
               "spiff", "spiff_2", "sunset", "wayne"]
# Scratch 1.4's stage backgrounds that are photographs (the others are drawings, GIFs, or, for
# graffiti, blurred to look painted).
SCRATCH = {
    "Indoors": ["clothing-store", "hall", "kitchen", "the-movies-inside"],
    "Nature": ["beach-malibu", "canyon", "flower-bed", "forest", "garden-rock", "grand-canyon",
               "gravel-desert", "hill", "lake", "moon", "pathway", "tree", "water-and-rocks", "wave"],
    "Outdoors": ["all-sports-mural", "atom-playground", "bench-with-view", "berkeley-mural",
                 "boardwalk", "brick-wall-and-stairs", "brick-wall2", "building-at-mit",
                 "building-fireproof", "castle", "city-with-water", "city-with-water2", "driveway",
                 "hallway_outdoors", "hay_field", "houses", "mansion", "mural-faro",
                 "parking-ramp", "pool", "route66", "silos", "the-movies", "train-tracks1",
                 "train-tracks2", "village", "wooden-house"],
    "Sports": ["baseball-field", "football-field", "playing-field", "tennis-backboard"],
}
# The GIMP manual's tone-mapping tutorial: three scenes (the other files are the same photographs
# processed, or screenshots). tree-exposed-... shows two exposures side by side: its left half.
GIMP_HELP = [("apple-orchard-truck-tone-mapped-with-Exposur", None),
             ("power-lines", None),
             ("tree-exposed-for-sky-ground-is-dark", (0, 0, 385, 642))]
# Kalzium's photographs of laboratory equipment large enough (the rest are under 256 px).
KALZIUM = ["abzug", "becherglas", "dsc", "exikator", "hplc", "phpapier", "rg-staender",
           "rotationsverdampfer", "spatel", "trichter", "waage"]
# ExpEYES-17's help: photographs of the kit (the rest are screenshots and plots).
EYES17 = ["accessory", "eyes-box", "eyes17-panel", "induction-photo", "rod-pend-LB"]
# GCompris: (resource file, folder in it, prefix, names). Each folder has a README naming the author,
# licence and Wikimedia Commons source of every image. Left out: the drawings (lang's words, the
# paintings of "details") and five "details" photographs of monuments already in explore_monuments.
GC = "/gcompris/src/activities/"
GCOMPRIS = [
    ("erase", GC + "erase/resource", "erase",
     ["alpaca", "bee", "butterfly", "calf", "camels", "caterpillar", "chamaeleon", "cheetah", "crab",
      "dolphin", "flying_fox", "gibbon", "giraffe", "goat", "gorilla", "gosling", "heron", "horse",
      "kingfisher", "kitten", "long_nosed_monkey", "macaque", "meerkats", "northern_harrier",
      "nubian_ibex", "penguin", "pika", "red_panda", "rhinoceros", "spoonbills", "squirrel", "swans",
      "toucan"]),
    ("explore_farm_animals", GC + "explore_farm_animals/resource/animals", "farm",
     ["cat", "chicken", "cow", "dog", "duck", "horse", "owl", "pig", "sheep"]),
    ("explore_world_animals", GC + "explore_world_animals/resource/animals", "animals",
     ["bison", "chameleon", "crocodile", "dragon", "giraffe", "hedgehog", "jaguar", "kangaroo",
      "koala", "lemur", "moose", "narwhal", "panda", "polar_bear", "scarlet_macaw"]),
    ("explore_monuments", GC + "explore_monuments/resource", "monuments",
     ["egypt/bentPyramid", "egypt/greatPyramidOfGiza", "egypt/meidumPyramid", "egypt/redPyramid",
      "france/arlesAmphitheater", "france/chateaudeChambord", "france/chateaudeChenonceau",
      "france/citedeCarcassonne", "france/eiffelTower", "france/montStMichel", "france/palaisdesPapes",
      "france/pontduGard", "france/reimsCathedral", "france/rocamadour",
      "germany/aulaPalatina", "germany/berlinCathedral", "germany/brandenburgGate",
      "germany/neuschwansteinCastle", "germany/schwerinPalace", "germany/trierImperialBaths",
      "germany/wormsCathedral",
      "india/ajantaCave", "india/charminar", "india/gatewayofIndia", "india/goldenTemple",
      "india/greatStupa", "india/hawaMahal", "india/konarkSunTemple", "india/mysorePalace",
      "india/qutubMinar", "india/rangGhar", "india/victoriaMemorial",
      "usa/cabrillo", "usa/canyondeChelly", "usa/castillodeSanMarcos", "usa/castleClinton",
      "usa/fortSumter", "usa/georgeWashingtonBirthplace", "usa/lincolnMemorial", "usa/mountRushmore",
      "usa/navajo", "usa/statueofLiberty",
      "wonders/chichenItza", "wonders/christTheRedeemer", "wonders/colosseum",
      "wonders/greatWallofChina", "wonders/machuPicchu", "wonders/petra", "wonders/tajMahal"]),
    ("details", GC + "details/resource/image", "details",
     ["EgeskovSlotSpejling_background", "EilanDonanCastle_background", "FanoeWindmill_background",
      "Louvre_2007_02_24_c_background", "NDP_background", "Nagoya_background",
      "OperaSidney_background", "TowerBridgeLondon_background"]),
    ("explore_world_music", GC + "explore_world_music/resource/music", "music",
     ["africa", "america", "australia", "ireland", "italy", "japan", "mexico", "middleeast",
      "orchestra"]),
    ("clickgame", GC + "clickgame/resource", "sea", ["sea1", "sea2", "sea3", "sea4", "sea5", "sea6"]),
]
# Names misspelt in the GCompris credits files.
CREDIT_ALIAS = {"germany/aulaPalatina": "germany/audaPalatina"}
FREE = re.compile(r"^(CC0|Public Domain|public-domain|CC-BY(-SA)?[ -][0-9.]+|GPL|LGPL|GFDL|FDL|GNU-FDL)",
                  re.I)


def fail(msg):
    sys.exit("train-data: " + msg)


def need(path):
    if not os.path.exists(path):
        fail("missing %s (package contents changed?)" % path)
    return path


def read(path):
    with open(need(path), encoding="utf-8", errors="replace") as f:
        return f.read()


class Deb:
    """One package unpacked in PKGDIR/<name>; knows its version."""

    def __init__(self, pkgdir, name):
        self.name, self.root = name, os.path.join(pkgdir, name)
        debs = glob.glob(os.path.join(pkgdir, name + "_*.deb"))
        if not debs or not os.path.isdir(self.root):
            fail("package %s was not fetched and unpacked" % name)
        self.version = subprocess.run(["dpkg-deb", "-f", debs[0], "Version"], check=True,
                                      capture_output=True, text=True).stdout.strip()

    def path(self, rel):
        return need(os.path.join(self.root, rel.lstrip("/")))

    def source(self, where):
        return "Debian %s %s, %s" % (self.name, self.version, where)


def save(im, dest):
    im = ImageOps.exif_transpose(im)
    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        back = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(back, im)
    im = im.convert("RGB")
    if max(im.size) > MAX_SIDE:
        im.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)
    tmp = dest + ".tmp"
    im.save(tmp, "JPEG", quality=92)
    os.replace(tmp, dest)


class Out:
    def __init__(self, outdir):
        self.dir, self.rows = outdir, []

    def add(self, src, name, author, licence, source, crop=None, turn=0):
        if not FREE.match(licence):
            fail("%s: licence %r is not on the list of free licences" % (name, licence))
        if not author:
            fail("%s: no author found" % name)
        with Image.open(src) as im:
            im.load()
            if crop:
                im = im.crop(crop)
            if turn:  # degrees clockwise
                im = ImageOps.exif_transpose(im).rotate(-turn, expand=True)
            save(im, os.path.join(self.dir, name + ".jpg"))
        cell = lambda s: " ".join(s.split()).replace("|", "/")
        self.rows.append("| %s.jpg | %s | %s | %s |" % (name, cell(author), cell(licence), cell(source)))


def rcc_files(path):
    """{path inside: bytes} of a Qt resource (.rcc) file (format versions 1-3, zlib or no compression)."""
    with open(need(path), "rb") as f:
        buf = f.read()
    if buf[:4] != b"qres":
        fail("%s is not a Qt resource file" % path)
    ver, tree, data, names = struct.unpack(">IIII", buf[4:20])
    size = 14 if ver == 1 else 22
    out = {}

    def name(off):
        n = struct.unpack(">H", buf[names + off:names + off + 2])[0]
        return buf[names + off + 6:names + off + 6 + 2 * n].decode("utf-16-be")

    def walk(i, prefix):
        p = tree + i * size
        noff, flags = struct.unpack(">IH", buf[p:p + 6])
        here = prefix + "/" + name(noff) if i else ""
        if flags & 2:  # directory: children first..first+count-1
            count, first = struct.unpack(">II", buf[p + 6:p + 14])
            for c in range(first, first + count):
                walk(c, here)
            return
        doff = struct.unpack(">I", buf[p + 10:p + 14])[0]
        n = struct.unpack(">I", buf[data + doff:data + doff + 4])[0]
        raw = buf[data + doff + 4:data + doff + 4 + n]
        if flags & 1:
            raw = zlib.decompress(raw[4:])
        elif flags & 4:
            return  # zstd: not needed for the images here
        out[here] = raw

    walk(0, "")
    return out


def credits(text):
    """{file name: {Copyright, License, Source, Comment}} from a GCompris resource README: blocks of
    'Key: value' lines, each starting at a Copyright line, the files listed after Files: (or bare)."""
    table, block = {}, None
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"^(Copyright|License|Source|Comments?|Files):\s*(.*)$", line)
        if m and m.group(1) == "Copyright":
            block = {"Copyright": m.group(2)}
        elif block is None:
            continue
        elif m and m.group(1) != "Files":
            block[m.group(1).rstrip("s")] = m.group(2)
        else:
            value = m.group(2) if m else line
            for token in value.split():
                table[token] = block
    return table


def main():
    pkgdir, outdir = sys.argv[1], sys.argv[2]
    out = Out(outdir)

    d = Deb(pkgdir, "kphotoalbum")
    if "GNU General Public License" not in read(d.path("usr/share/doc/kphotoalbum/copyright")):
        fail("kphotoalbum's copyright file no longer states the GPL")
    # The album's index.xml holds the rotation of the photographs scanned or shot sideways.
    angles = {}
    for attrs in re.findall(r"<image ([^>]*)>", read(d.path("usr/share/kphotoalbum/demo/index.xml"))):
        a = dict(re.findall(r'(\w+)="([^"]*)"', attrs))
        angles[a.get("file", "")] = int(a.get("angle", "0"))
    for n in KPHOTOALBUM:
        rel = "usr/share/kphotoalbum/demo/%s.jpg" % n
        turn = angles.get(n + ".jpg", 0)
        out.add(d.path(rel), "kphotoalbum-" + n, "KPhotoAlbum authors (demo album of Jesper K. Pedersen)",
                "GPL-2+", d.source("/" + rel + (" (turned %d degrees, as index.xml says)" % turn
                                                if turn else "")), turn=turn)

    d = Deb(pkgdir, "palapeli-data")
    for desk in sorted(glob.glob(d.path("usr/share/palapeli/collection") + "/*.desktop")):
        keys = dict(l.split("=", 1) for l in read(desk).splitlines()
                    if "=" in l and "[" not in l.split("=")[0])
        n = os.path.basename(desk)[:-len(".desktop")]
        rel = "usr/share/palapeli/collection/%s.jpg" % n
        out.add(d.path(rel), "palapeli-" + n, keys.get("X-KDE-PluginInfo-Author", ""),
                keys.get("X-KDE-PluginInfo-License", ""), d.source("/" + rel + " (and its .desktop)"))

    d = Deb(pkgdir, "python3-sklearn")
    base = "usr/lib/python3/dist-packages/sklearn/datasets/images/"
    readme = read(d.path(base + "README.txt"))
    for n, who in (("china", "danielbuechele (Flickr)"), ("flower", "vultilion (Flickr)")):
        if "Image: %s.jpg" % n not in readme or "licenses/by/2.0" not in readme:
            fail("sklearn's datasets/images/README.txt no longer credits %s.jpg under CC-BY-2.0" % n)
        out.add(d.path(base + n + ".jpg"), "sklearn-" + n, who, "CC-BY-2.0",
                d.source("sklearn/datasets/images/%s.jpg (README.txt there)" % n))

    d = Deb(pkgdir, "scratch")
    if not re.search(r"Files: Help/\* Media/\* Projects\s*\nCopyright: [^\n]*Massachusetts Institute of"
                     r" Technology\s*\nLicense: CC-BY-SA-3.0", read(d.path("usr/share/doc/scratch/copyright"))):
        fail("scratch's copyright file no longer gives Media/* under CC-BY-SA-3.0")
    for cat, names in SCRATCH.items():
        for n in names:
            rel = "usr/share/scratch/Media/Backgrounds/%s/%s.jpg" % (cat, n)
            out.add(d.path(rel), "scratch-" + n, "Massachusetts Institute of Technology (Scratch team)",
                    "CC-BY-SA-3.0", d.source("/" + rel))

    d = Deb(pkgdir, "gimp-help-en")
    common = Deb(pkgdir, "gimp-help-common")
    if "License: GFDL-NIV-1.2+" not in read(common.path("usr/share/doc/gimp-help-common/copyright")):
        fail("gimp-help-common's copyright file no longer states GFDL-NIV-1.2+")
    for n, crop in GIMP_HELP:
        rel = "usr/share/gimp/2.0/help/en/images/tutorials/tone-mapping/%s.jpg" % n
        out.add(d.path(rel), "gimp-help-" + n, "The GIMP Documentation Team",
                "GFDL-1.2+ (no invariant sections)",
                d.source("/" + rel + (" (left half)" if crop else "")), crop)

    d = Deb(pkgdir, "kalzium-data")
    if "License: GPL-2.0-or-later" not in read(d.path("usr/share/doc/kalzium-data/copyright")):
        fail("kalzium-data's copyright file no longer states GPL-2.0-or-later")
    for n in KALZIUM:
        rel = "usr/share/kalzium/data/toolpics/%s.jpg" % n
        out.add(d.path(rel), "kalzium-" + n, "Kalzium authors (Carsten Niehaus et al.)", "GPL-2+",
                d.source("/" + rel))

    d = Deb(pkgdir, "eyes17")
    if not re.search(r"Files: \*\s*\nCopyright: 2010-2018 Ajith Kumar B\.P.*\nLicense: GPL-3",
                     read(d.path("usr/share/doc/eyes17/copyright"))):
        fail("eyes17's copyright file no longer gives its files to Ajith Kumar B.P under GPL-3")
    for n in EYES17:
        rel = "usr/share/eyes17/helpFiles/pics/%s.jpg" % n
        out.add(d.path(rel), "eyes17-" + n, "Ajith Kumar B.P. (ExpEYES)", "GPL-3", d.source("/" + rel))

    d = Deb(pkgdir, "gcompris-qt-data")
    for rcc, folder, prefix, names in GCOMPRIS:
        files = rcc_files(d.path("usr/share/gcompris-qt/rcc/%s.rcc" % rcc))
        if folder + "/README" not in files:
            fail("no %s/README in %s.rcc" % (folder, rcc))
        table = credits(files[folder + "/README"].decode("utf-8", "replace"))
        for n in names:
            key = folder + "/" + n + ".webp"
            if key not in files:
                fail("no %s in %s.rcc" % (key, rcc))
            cn = CREDIT_ALIAS.get(n, n)
            c = table.get(cn + ".webp") or table.get(os.path.basename(cn) + ".webp")
            if c is None:
                fail("%s.webp has no credit in %s/README" % (n, folder))
            author = re.sub(r"^[0-9, -]+", "", c.get("Copyright", ""))  # "2000, 2008 Bruno Coudoin..."
            licence, origin = c.get("License", ""), c.get("Source", "")
            m = re.search(r"based on (?:a|an original) (?:photo|image) by (.*?), license (.*?), source at (\S+)",
                          c.get("Comment", ""))
            if m:  # "details": GCompris' edit of a Wikimedia Commons photograph
                author = "%s, after a photograph by %s (%s)" % (author, m.group(1), m.group(2))
                origin = m.group(3)
            src = io.BytesIO(files[key])
            out.add(src, "gcompris-%s-%s" % (prefix, os.path.basename(n)), author, licence,
                    d.source("/usr/share/gcompris-qt/rcc/%s.rcc, %s (credits: the README beside it%s)"
                             % (rcc, key, "; from " + origin if origin else "")))

    print("\n".join(out.rows))


if __name__ == "__main__":
    main()
