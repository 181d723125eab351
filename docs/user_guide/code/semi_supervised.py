"""Semi-supervised digits with skvae: M1, M2 and M1+M2; every fit stops by itself."""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.semi_supervised import SelfTrainingClassifier

from skvae import VAEClassifier, VAETransformer

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, stratify=y,
                                                    random_state=0)
rng = np.random.RandomState(0)
labeled = np.concatenate([rng.choice(np.flatnonzero(y_train == c), 5, replace=False)
                          for c in range(10)])
y_semi = np.full_like(y_train, -1)  # 50 labeled rows, the rest unlabeled
y_semi[labeled] = y_train[labeled]
# Plateaus of 5 epochs of the held-out ELBO (instead of 40) keep this page fast.
vae_params = dict(n_components=16, hidden_layer_sizes=(128, 128), likelihood="bernoulli",
                  batch_size=32, n_iter_no_change=5, random_state=0)

# The trap: a pipeline passes y_semi on, and LogisticRegression learns -1 as a class.
trap = make_pipeline(VAETransformer(**vae_params), LogisticRegression()).fit(X_train, y_semi)
print("classes learned by the naive pipeline:", trap.classes_)

# M1: the VAE learns from every row (fit ignores y), the classifier from labeled rows.
vae = VAETransformer(**vae_params).fit(X_train)
m1 = make_pipeline(FrozenEstimator(vae), LogisticRegression(max_iter=5000))
m1.fit(X_train[labeled], y_train[labeled])
print(f"M1, VAE features + LogisticRegression: {m1.score(X_test, y_test):.3f}")

# The same frozen features inside SelfTrainingClassifier, which takes y_semi as it is.
self_training = SelfTrainingClassifier(m1).fit(X_train, y_semi)
print(f"M1 + self-training: {self_training.score(X_test, y_test):.3f}")

# M2: one model of labels and pixels; -1 marks the unlabeled rows. The default stopping
# rule: plateaus of the training loss, the learning rate divided by 5 at the first two.
m2 = VAEClassifier(n_components=16, alpha=1000.0, random_state=0).fit(X_train, y_semi)
print(f"M2, VAEClassifier: {m2.score(X_test, y_test):.3f} after {m2.n_iter_} epochs")

# M1+M2: the pipeline fits the VAE on every row, then M2 on its latent means.
m1_m2 = make_pipeline(FrozenEstimator(vae),
                      VAEClassifier(n_components=16, alpha=1000.0, random_state=0)
                      ).fit(X_train, y_semi)
print(f"M1+M2: {m1_m2.score(X_test, y_test):.3f}")

# score counts labeled rows only, so a grid search on y_semi ranks by accuracy. Here
# with a constant rate (training stops at the first plateau), to keep the page fast.
search = GridSearchCV(VAEClassifier(n_components=16, learning_rate="constant",
                                    random_state=0),
                      {"alpha": [100.0, 1000.0]}, cv=2).fit(X_train, y_semi)
print("best alpha:", search.best_params_["alpha"],
      f"cross-validated accuracy on labeled rows: {search.best_score_:.3f}")
