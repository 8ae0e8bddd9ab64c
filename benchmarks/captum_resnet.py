"""Print the figures of docs/peers.md on captum and residual networks: lrpref against captum 0.9.0 on torchvision's
resnet18 (float64, 3×64×64, a batch of 2) and a small residual CNN, and what captum's LRP and DeepLift do on the
unmodified ResNet. The models are those of tests/peers (residual_nets.py, test_captum_resnet.py).

Errors are per sample ``max |lrpref − captum| / max |captum|`` (the largest over the batch); a summation error is
``|Σ R − Δf| / |Δf|`` with ``Δf = f_c(x) − f_c(x̂)``.
Run: python benchmarks/captum_resnet.py (needs lrpref[peers]).
"""

import sys
import warnings
from pathlib import Path

tests = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(tests / "peers"), str(tests)]

import numpy as np  # noqa: E402
import residual_nets as nets  # noqa: E402
from peer_nets import relative_error, run_captum  # noqa: E402

import lrpref as lr  # noqa: E402
from lrpref.presets import captum  # noqa: E402

warnings.filterwarnings("ignore")


def integrated_gradients(model, net, x, target):
    for method, n in (("gausslegendre", 8), ("riemann_trapezoid", 6)):
        theirs = run_captum("IntegratedGradients", model, x, target, n_steps=n, method=method)
        errors = [relative_error(lr.explain(net, x, target=target, **captum.integrated_gradients(0.0, n, method, quirks=q)).relevance,
                                 theirs) for q in (True, False)]
        print(f"| IntegratedGradients ({method}, {n}) | resnet18 | {errors[0]:.1e} | exact weights: {errors[1]:.1e} |")


def deeplift(name, captum_model, net, x, target):
    for baseline, make in nets.BASELINES.items():
        reference = make(x.shape)
        theirs = run_captum("DeepLift", captum_model, x, target, baselines=reference)
        quirky = lr.explain(net, x, target=target, **captum.deeplift(reference, quirks=True)).relevance
        right = lr.explain(net, x, target=target, **captum.deeplift(reference)).relevance
        print(f"| DeepLift, {baseline} baseline | {name} | {relative_error(quirky, theirs):.1e} | "
              f"cross-maximum rule: {relative_error(right, theirs):.2g} from captum; summation error "
              f"{nets.summation_error(net, x, reference, target, right):.1e} (captum's: "
              f"{nets.summation_error(net, x, reference, target, theirs):.2g}) |")


def lrp(model, net, x, target):
    from captum.attr import LRP

    inputs, targets = nets.torch.tensor(x), nets.torch.tensor(target)
    ours = lr.explain(net, x, target=target, rule=captum.LRP()).relevance
    added = LRP(nets.rewritten(model, relu_per_call=False, addition_module=True)).attribute(inputs, target=targets)
    print(f"| LRP (ε = 1e-9), `Addition_Module` per sum | resnet18 | {relative_error(ours, added.detach().numpy()):.1e} | |")
    plain = LRP(model).attribute(inputs, target=targets).detach().numpy()
    logit = net(x)[np.arange(len(x)), target]
    print("\ncaptum LRP on the unmodified resnet18 (plain `+`):")
    for k in range(len(x)):
        print(f"  sample {k}: f_c(x) = {logit[k]:.4g}, Σ R: lrpref {ours[k].sum():.4g}, captum {plain[k].sum():.3g}; "
              f"max |R|: lrpref {np.abs(ours[k]).max():.3g}, captum {np.abs(plain[k]).max():.3g}; "
              f"correlation {np.corrcoef(plain[k].ravel(), ours[k].ravel())[0, 1]:.3f}")
    print(f"  relative error of captum against lrpref: {relative_error(plain, ours):.2g}")


def main():
    model, net, x, target = nets.resnet18()
    print("| captum method | model | lrpref (quirks=True) vs captum | |")
    print("|---|---|---|---|")
    integrated_gradients(model, net, x, target)
    deeplift("resnet18, a ReLU per call", nets.rewritten(model), net, x, target)
    small, small_net, small_x, small_target = nets.residual_cnn()
    deeplift("residual CNN", small, small_net, small_x, small_target)
    functional, functional_net, _, _ = nets.residual_cnn(functional_relu=True)
    theirs = run_captum("DeepLift", functional, small_x, small_target)
    ours = lr.explain(functional_net, small_x, target=small_target, **captum.deeplift(0.0, quirks=True)).relevance
    print(f"| DeepLift, zero baseline | residual CNN, one ReLU as `torch.relu` | {relative_error(ours, theirs):.2g} | "
          f"captum's summation error {nets.summation_error(functional_net, small_x, 0 * small_x, small_target, theirs):.2g} |")
    lrp(model, net, x, target)


if __name__ == "__main__":
    main()
