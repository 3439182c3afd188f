"""Specs of the sequence losses (include/losskit/sequence.hpp)."""
from . import LossSpec


def ctc_shape(shapes, options):
    """One loss per sequence: (N) for log_probs (T, N, C), () for an unbatched (T, C)."""
    s = tuple(shapes[0])
    return (s[1],) if len(s) == 3 else ()


ctc_loss = LossSpec("ctc_loss", ("log_probs", "targets", "input_lengths", "target_lengths"),
                    (True, False, False, False), ctc_shape,
                    doc="-log p(target | log_probs) summed over CTC alignments (Graves 2006), "
                        "torch.nn.functional.ctc_loss.")
