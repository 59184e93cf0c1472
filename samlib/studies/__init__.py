"""The studies: code that one chapter of the book needs, built on the core of samlib.

The core (``samlib.*``) is the mathematics a reader imports into their own work: landscapes,
the ascent direction, sharpness, Hessian tools, the SAM optimizers, the MLP, bounds, data,
statistics and the ledger. A study is the scaffolding of one chapter's experiment. A study may
import the core; the core never imports a study.

=================================  ==========================================================
``samlib.studies.dynamics``        batched SAM/GD runs, fixed points and two-cycles (ch. 2)
``samlib.studies.sam_gradient``    the exact gradient of the SAM objective, eq. (5) terms (ch. 2)
``samlib.studies.implicit_bias``   the Wen-Ma-Li example of SAM's implicit bias (ch. 2)
``samlib.studies.pac_bayes``       Monte-Carlo checks and a non-vacuous PAC-Bayes bound (ch. 3)
``samlib.studies.convergence``     vectorised stochastic SAM for the convergence rate (ch. 4)
``samlib.studies.experiments``     batched training of the review's MLP experiment (ch. 5)
=================================  ==========================================================
"""
