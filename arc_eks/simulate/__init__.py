"""Scaling model: replay a job trace against a stack's runner pools (`make simulate`).

The model (arc_eks.simulate.model) is a discrete-event simulation of ARC's
HorizontalRunnerAutoscaler (or webhook / scale-set listener scaling), runner pod start-up and the
cluster-autoscaler. Every parameter, its default and its source: arc_eks.simulate.params and
docs/scaling-model.md.
"""
