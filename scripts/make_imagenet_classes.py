#!/usr/bin/env python3
"""Writes Sources/CImageNetClasses/imagenet_classes.tsv ("WordNet ID<TAB>name" per line): the 1000 ImageNet-1k class names in the
standard index order, from torchvision's category list (torchvision.models._meta._IMAGENET_CATEGORIES,
the names torchvision's and timm's pretrained classifiers are labelled with), and their WordNet IDs
from timm's data files (timm/data/_info/imagenet_synsets.txt, the same order).

    /tmp/py/bin/pip install torchvision timm
    /tmp/py/bin/python scripts/make_imagenet_classes.py
"""
import json
import os

import timm
from torchvision.models._meta import _IMAGENET_CATEGORIES as NAMES

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'Sources', 'CImageNetClasses', 'imagenet_classes.tsv')
with open(os.path.join(os.path.dirname(timm.__file__), 'data', '_info', 'imagenet_synsets.txt')) as f:
    WNIDS = [line.strip() for line in f if line.strip()]

assert len(NAMES) == 1000 and len(set(NAMES)) == 1000, 'expected 1000 distinct names'
assert len(WNIDS) == 1000 and WNIDS == sorted(WNIDS), 'expected the 1000 sorted WordNet IDs'


with open(OUT, 'w') as f:
    for wnid, name in zip(WNIDS, NAMES):
        assert name.isprintable() and '\t' not in name, name
        f.write('%s\t%s\n' % (wnid, name))
print('wrote', os.path.normpath(OUT))
