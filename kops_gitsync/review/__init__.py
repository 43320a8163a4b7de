"""What a change does to kops clusters, for a reviewer: the semantic plan.

``fielddiff`` compares two decoded Cluster or InstanceGroup documents field by field,
``risk`` flags the changes that need more than a glance on a kops cluster, ``model`` groups
them per store and cluster (secrets only as fingerprints), ``gitsource`` reads both sides from
git (a revision range, or what push would write), and ``render`` turns the result into text,
markdown or JSON. Nothing here opens a store or imports a cloud SDK: ``kops-gitsync diff``
works in CI with no credentials.
"""
