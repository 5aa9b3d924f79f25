"""libnic's training code: scripts that make the networks in models/ (nothing here runs in the library).

Packages: `training.aicodec` (the AI codec's scaling and chroma networks; `training.aicodec.experiments`
holds measurements that shipped nothing), `training.neural` (the neural image codec). Scripts run as
`python3 training/<package>/<script>.py` from anywhere; each puts the repository root on the module
path, so that they import `training.*` and `bench.rdcurves` as packages.
"""
