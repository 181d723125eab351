"""CVAEGAN: labels required, samples that carry their label, the conditional score, the
two optimisers kept apart, persistence, conv networks and bad labels.

scikit-learn's API checks run in tests/test_estimator_checks.py.
"""

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.utils import get_tags

from skvae import CVAEGAN, load, save
from skvae._discriminator import ConvCVAEGANModule, CVAEGANModule
from skvae.networks import ConvNetwork

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CHEAP = dict(n_components=2, hidden_layer_sizes=(8,), max_iter=5, device="cpu",
             random_state=0)
CONV = dict(CHEAP, network=ConvNetwork(image_shape=(1, 4, 4), channels=(2,)))

#: Top-left corner of each class's bright square in a 4x4 image.
CORNERS = [(0, 0), (2, 2), (0, 2)]


def labelled_images(n=90, seed=0):
    """4x4 images in [0, 1] whose class says where the bright 2x2 square is."""
    rng = np.random.RandomState(seed)
    y = np.arange(n) % len(CORNERS)
    out = 0.05 * rng.rand(n, 4, 4)
    for i, label in enumerate(y):
        r, c = CORNERS[label]
        out[i, r : r + 2, c : c + 2] += 0.9
    return out.reshape(n, -1), y


@pytest.fixture(scope="module")
def trained():
    """A CVAEGAN trained long enough to use its labels, and its training rows."""
    X, y = labelled_images()
    return CVAEGAN(**{**CHEAP, "hidden_layer_sizes": (16,), "max_iter": 100}).fit(X, y), X, y


def test_fit_requires_y_and_says_so():
    X, _ = labelled_images()
    assert get_tags(CVAEGAN()).target_tags.required
    with pytest.raises(ValueError, match="CVAEGAN requires y to be passed"):
        CVAEGAN(**CHEAP).fit(X)
    with pytest.raises(ValueError, match="requires y"):
        CVAEGAN(**CHEAP).partial_fit(X)


def test_samples_are_assigned_their_label_by_a_classifier_of_real_rows(trained):
    gan, X, y = trained
    judge = LogisticRegression().fit(X, y)
    wanted = np.repeat([0, 1, 2], 30)
    rows, labels = gan.sample(90, y=wanted, random_state=0)
    np.testing.assert_array_equal(labels, wanted)
    # Chance is 1/3; a model that ignored its condition could not beat it.
    assert np.mean(judge.predict(rows) == wanted) > 0.8
    z = np.random.RandomState(1).standard_normal((90, 2))
    assert np.mean(judge.predict(gan.inverse_transform(z, y=wanted)) == wanted) > 0.8


def test_the_right_label_scores_higher_than_a_wrong_one(trained):
    gan, X, y = trained
    right = gan.score_samples(X, y)
    wrong = gan.score_samples(X, (y + 1) % 3)
    # Fitted with labels that carry no information, the gap stays under 2 nats.
    assert right.mean() > wrong.mean() + 5.0
    assert gan.score(X, y) == pytest.approx(right.mean())
    # Without y: log sum_k p(k) exp(ELBO(x | k)), at least the true label's term.
    marginal = gan.score_samples(X)
    assert np.all(marginal >= right + np.log(gan.class_prior_[y]) - 1e-9)


def test_the_auxiliary_classifier_learns_the_labels_of_real_rows(trained):
    gan, X, y = trained
    x = gan._standardizer.to_tensor(X, torch.float32, "cpu")
    with torch.no_grad():
        _, logits = gan.module_.classifier(x)
    assert np.mean(logits.argmax(-1).numpy() == y) > 0.9


def _objective(gan, X, y):
    """The fitted model's objective over X, as fit builds it."""
    return gan._objective(gan.module_, X, gan._onehot(y))


def test_the_loss_trains_encoder_and_decoder_never_the_critics():
    X, y = labelled_images()
    gan = CVAEGAN(**CONV).fit(X, y)
    module, objective = gan.module_, _objective(gan, X, y)
    critics = ("discriminator.", "classifier.")
    before = {k: v.clone() for k, v in module.state_dict().items()}
    loss = objective.loss(objective.data)
    after = module.state_dict()
    # The objective's own optimiser stepped both critics inside loss(); nothing else moved.
    for prefix in critics:
        assert any(not torch.equal(v, after[k]) for k, v in before.items()
                   if k.startswith(prefix))
    assert all(torch.equal(v, after[k]) for k, v in before.items()
               if not k.startswith(critics))
    loss.backward()
    for name, p in module.named_parameters():
        assert (p.grad is None) == name.startswith(critics), name
        assert p.requires_grad


def test_the_class_term_is_the_classifier_cross_entropy_at_the_condition(trained):
    gan, X, y = trained
    with_term = _objective(gan, X, y)
    # A shallow copy shares the fitted module; only the weight of the class term differs.
    without = _objective(copy.copy(gan).set_params(classifier_weight=0.0), X, y)
    x, c = with_term.data[0], with_term.data[1]
    with torch.no_grad():
        _, logits = gan.module_.classifier(x)
        for condition in (c, torch.roll(c, 1, dims=1)):
            term = (with_term._generator_loss(x, x, x, condition)
                    - without._generator_loss(x, x, x, condition))
            # Reconstructions and samples are both x here: twice its weighted
            # cross-entropy.
            expected = 2 * gan.classifier_weight * torch.nn.functional.cross_entropy(
                logits, condition.argmax(-1), reduction="none")
            torch.testing.assert_close(term, expected)
        right = with_term._generator_loss(x, x, x, c) - without._generator_loss(x, x, x, c)
        wrong = (with_term._generator_loss(x, x, x, torch.roll(c, 1, dims=1))
                 - without._generator_loss(x, x, x, torch.roll(c, 1, dims=1)))
    assert wrong.mean() > right.mean()


@pytest.mark.parametrize("params, module_class", [(CHEAP, CVAEGANModule),
                                                  (CONV, ConvCVAEGANModule)])
def test_save_load_and_pickle_round_trip(params, module_class, tmp_path):
    X, y = labelled_images()
    gan = CVAEGAN(**params).fit(X, y)
    assert type(gan.module_) is module_class
    save(gan, tmp_path / "gan.skvae")
    for restored in (load(tmp_path / "gan.skvae"), pickle.loads(pickle.dumps(gan))):
        assert type(restored) is CVAEGAN and type(restored.module_) is module_class
        assert restored.get_params() == gan.get_params()
        np.testing.assert_array_equal(restored.classes_, gan.classes_)
        np.testing.assert_array_equal(restored.transform(X, y), gan.transform(X, y))
        np.testing.assert_array_equal(restored.score_samples(X, y), gan.score_samples(X, y))
        for a, b in zip(restored.sample(6, y=[2, 0, 1, 1, 0, 2], random_state=1),
                        gan.sample(6, y=[2, 0, 1, 1, 0, 2], random_state=1)):
            np.testing.assert_array_equal(a, b)


def test_conv_network_and_string_labels():
    X, y = labelled_images()
    names = np.array(["left", "right", "top"])[y]
    gan = CVAEGAN(**CONV).fit(X, names)
    assert type(gan.module_) is ConvCVAEGANModule
    assert gan.module_.classifier.logit.out_features == 3
    rows, labels = gan.sample(5, y="top", random_state=0)
    assert rows.shape == (5, 16) and labels.tolist() == ["top"] * 5
    assert gan.transform(X, names).shape == (90, 2)
    assert gan.inverse_transform(np.zeros((2, 2)), y=["left", "top"]).shape == (2, 16)


def test_same_seed_same_fit_and_the_global_rng_untouched():
    X, y = labelled_images()
    state = torch.random.get_rng_state()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = CVAEGAN(**CONV).fit(X, y).transform(X, y)
        b = CVAEGAN(**CONV).fit(X, y).transform(X, y)
    np.testing.assert_array_equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.fixture(scope="module")
def fitted():
    X, y = labelled_images()
    return CVAEGAN(**CHEAP).fit(X, y), X, y


@pytest.mark.parametrize("call, message", [
    (lambda gan, X, y: gan.sample(2, y=[0, 5]), "labels not seen in fit"),
    (lambda gan, X, y: gan.sample(3, y=[0, 1]), "one label per row drawn"),
    (lambda gan, X, y: gan.transform(X, y[:-1]), "one label per row of X"),
    (lambda gan, X, y: gan.score_samples(X, y + 7), "labels not seen in fit"),
    (lambda gan, X, y: gan.inverse_transform(np.zeros((2, 2)), y=["a", "b"]),
     "labels not seen in fit"),
])
def test_bad_labels_after_fit_are_refused(fitted, call, message):
    gan, X, y = fitted
    with pytest.raises(ValueError, match=message):
        call(gan, X, y)


@pytest.mark.parametrize("y, message", [
    (np.arange(90) % 3 + 0.5, "continuous values"),
    (np.arange(89) % 3, "one label per row of X"),
    (np.where(np.arange(90) == 4, np.nan, 1.0), "must be finite"),
])
def test_bad_labels_in_fit_are_refused(y, message):
    X, _ = labelled_images()
    with pytest.raises(ValueError, match=message):
        CVAEGAN(**CHEAP).fit(X, y)


@pytest.mark.parametrize("name", ["pixel_weight", "feature_weight", "adversarial_weight",
                                  "classifier_weight"])
def test_negative_weights_are_refused(name):
    X, y = labelled_images()
    with pytest.raises(ValueError, match=name):
        CVAEGAN(**{**CHEAP, name: -1.0}).fit(X, y)
