"""Frame sources: a folder of jpg/png images (natural sort) or a video file (ffmpeg CLI -> PNGs)."""

import os
import re
import shutil
import subprocess
import tempfile

import numpy as np

IMAGE_EXTS = (".jpg", ".jpeg", ".png")


def natural_key(name):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def list_frames(folder):
    names = [n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTS)]
    return [os.path.join(folder, n) for n in sorted(names, key=natural_key)]


def load_rgb(path):
    from PIL import Image
    with Image.open(path) as im:
        return np.array(im.convert("RGB"))


class FrameSource:
    """Iterates 8-bit RGB frames [H,W,3] uint8. For a video the frames are decoded once with the
    ffmpeg CLI into a temporary folder of PNGs (lossless), removed by close()."""

    def __init__(self, path, max_frames=None):
        self.tmp = None
        if os.path.isdir(path):
            files = list_frames(path)
        else:
            self.tmp = tempfile.mkdtemp(prefix="katref_")
            subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-vsync", "0",
                            os.path.join(self.tmp, "%06d.png")], check=True)
            files = list_frames(self.tmp)
        if max_frames is not None:
            files = files[:max_frames]
        if not files:
            raise ValueError("no frames found in %s" % path)
        self.files = files
        first = load_rgb(files[0])
        self.height, self.width = first.shape[:2]

    def __len__(self):
        return len(self.files)

    def __iter__(self):
        for f in self.files:
            yield load_rgb(f)

    def close(self):
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
