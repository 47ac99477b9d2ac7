"""Training of katana's small default model on synthetic tracking clips (issue 8).

The recipe follows SAM 2's video training in spirit: a box prompt on the first frame of a short
clip, then tracking through memory attention on the following frames, with a focal + dice mask
loss on the best of the multimask candidates, an IoU-prediction loss on every candidate and an
object-score loss. It runs on CPU with Debian's torch and is reproducible by seed.
"""
