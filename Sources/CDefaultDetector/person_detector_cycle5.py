# A fifth cycle for the embedded person detector: start from the fourth cycle's weights (--weights),
# 15000 fresh images (synth seed 25), the fourth cycle's schedule (lr 0.005 for 6 epochs, x0.1 at
# epochs 4 and 5).
_base_ = ['./person_detector_cycle4.py']
