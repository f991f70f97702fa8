"""Sigma interop: `ctrules import sigma` turns Sigma rules for AWS CloudTrail into `.ctr` rules.

Built on pySigma (the optional extra `ctrules[sigma]`): `pipeline` (the CloudTrail processing
pipeline), `backend` (Sigma condition tree → `ctrules.nodes`), `examples` (match / no-match
records), `importer` (files → formatted, checked `.ctr` text or a reason) and `cli` (the
command). Only `cli` is imported without pySigma installed.
"""
