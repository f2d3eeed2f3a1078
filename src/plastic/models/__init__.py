"""plastic's own learning rules, one file each; each is a `plastic.rule` class that registers
through the `plastic.rules` entry points in pyproject.toml, as a user's rule would.

    oja        Oja           FeatureLearner    ANNarchy's bar-learning network
    bcm        BCM           FeatureLearner    the plasticity library's BCM
    hopfield   KrotovHopfield FeatureLearner   competing hidden units (PNAS 2019)
    topo_wta   TopoWTA       FeatureLearner    topographic multi-winner-take-all map
    force      Force         DynamicalSystem   FORCE learning (Sussillo & Abbott 2009)
    attractor  Attractor     DynamicalSystem   free-energy attractor network (Spisak & Friston)
"""
