"""Make the checkout importable as ansible_collections.baremetal.vip for every test."""
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINK_ROOT = os.path.join(TOP, ".collections")
_link = os.path.join(LINK_ROOT, "ansible_collections", "baremetal", "vip")
if not os.path.lexists(_link):
    os.makedirs(os.path.dirname(_link), exist_ok=True)
    os.symlink("../../..", _link)
if LINK_ROOT not in sys.path:
    sys.path.insert(0, LINK_ROOT)
