"""Protocol files: a paper's experiments and analyses as one YAML file, run by one command.

A protocol names the data, the methods (with their checkpoints), the experiments
(one method x one simulated user each, with the user's mode, the round budget and the
stopping rule), the seed, the metrics and the analyses. :func:`load_protocol` checks
all of it before any work; :func:`run_protocol` (``simedit run PROTOCOL.yaml``) runs it
into a results folder OUT, resuming where an earlier run of the same protocol stopped
and refusing a folder that holds another protocol's results::

    OUT/protocol.json          what was run (see :func:`protocol_record`)
    OUT/experiments/<id>/      one run folder per experiment (benchmark.runner)
    OUT/analyses/              the analyses' files (benchmark.analyses), and
                               completed.json: the analyses finished, with their settings

Schema (relative paths resolve against the protocol file's folder)::

    name: seed-paper-section3      # [A-Za-z0-9._-]+; default results folder results/<name>
    title: "..."                   # optional, default: name
    data: data                     # folder of cases (a benchmark.io layout)
    layout: null                   # optional: a benchmark.io.LAYOUTS name; null: detected
    cases: held-out                # optional, default held-out:
                                   #   all       every case of data
                                   #   held-out  every case in none of the network checkpoints'
                                   #             train/validation splits (all, without networks)
                                   #   [ids]     these cases
    seed: 0                        # optional, default 0: every session's and analysis' stream
    metrics: {hd95: false}         # optional, default {hd95: true, nsd: null, conventions: simedit}:
                                   #   nsd: MM  NSD per round at this tolerance (rounds.csv nsd)
                                   #   conventions: cvpr25  the challenge's NSD (surface elements,
                                   #            0 where DSC <= 0.2) and its scores in the report
                                   #   locality_mm: 10  radius of rounds.csv far_share
    time_limit_s: null             # optional: seconds a prediction may take (rounds.csv timed_out)
    on_timeout: keep               # optional: keep (the previous prediction stands) or empty
    initial: null                  # optional: folder of first masks <case_id>.nii.gz for manual-paint
    effort: {click_s: 2.4}         # optional: seconds per edit behind rounds.csv effort_s (the
                                   #   others keep their defaults; benchmark.effort.EffortModel)
    save_masks: false              # optional: every round's prediction in experiments/<id>/masks/
    repeats: 1                     # optional: sessions per case and user (user seeds 0..R-1; more
                                   #   repeats later continue the finished ones)
    scheduler: null                # optional: run every experiment's sessions on dask.distributed:
                                   #   tcp://HOST:PORT (a running scheduler) or local:N (N worker
                                   #   processes simedit starts); --scheduler / --cluster override it;
                                   #   not part of the results' identity (pip install 'simedit[dask]')
    realism: {jitter_mm: 2, slip: 0.1}   # optional: realism knobs (benchmark.realism) added to every
                                   #   experiment's user spec (to each stage of a chain); LOW..HIGH
                                   #   strings are ranges a population draws from
    methods:                       # alias -> method spec (benchmark.specs; `simedit methods` lists them)
      G: editor=checkpoints/G.pt   #   a file or folder argument resolves against the protocol's folder
      paint: manual-paint          #   external programs run there: cvpr25=python predict.py {inputs} {outputs}
      mine: mylab.editing:MyMethod=ckpt.pt   # a plug-in by import path (or its entry-point name)
    experiments:                   # in the order figures and tables show them
      - id: e                      # [a-z0-9_-]+, unique: the folder experiments/<id>
        label: "(e) G, multiple edits"   # optional, default: id; unique
        method: G                  # an alias of methods
        user: "multi:target_dice=0.95"   # a user spec (benchmark.specs; `simedit users`); "none" never edits;
                                   #   "A then B": A's round first, then B's (benchmark.chain)
        mode: test                 # optional, default test: the user's test or train variant
        rounds: 5                  # editing rounds after the initial prediction (>= 0)
        target_dice: null          # optional: stop a session once its Dice reaches this
        time_limit_s: 90           # optional: this experiment's limit (default: the top-level one)
        on_timeout: empty          # optional: likewise
        realism: {k_step: 0.05}    # optional: knobs for this experiment, over the top-level ones
        repeats: 10                # optional: sessions per case, user seeds 0..9 (default: top-level)
    analyses:                      # optional; each at most once
      sweep: {methods: [G], cases: 2, k: [-0.5, 0.0, 0.5]}   # k optional, default DEFAULT_KS
      robustness: {methods: [G], cases: 2}
      panels: {methods: [G], cases: [case ids]}
                                   # cases: the first N of the protocol's cases (sorted), ids
                                   # among them, or {worst: N, experiment: ID}: the N cases
                                   # with the lowest final Dice in that experiment (run
                                   # first), where the tools have most to fix; default 2

Every problem raises ValueError with a message that starts with the protocol file's
path and names the key path, e.g. ``seed.yaml: experiments[3].user: unknown user
'mutli'; did you mean 'multi'? ...``.
"""

from benchmark.protocol.cases import held_out
from benchmark.protocol.load import load_protocol, shipped_protocol
from benchmark.protocol.record import protocol_changes, protocol_record, write_protocol_record
from benchmark.protocol.run import AnalysisOutcome, ExperimentOutcome, ProtocolSummary, run_config, run_protocol
from benchmark.protocol.schema import (ANALYSES, ANALYSES_DIR, CASE_SELECTIONS, COMPLETED_FILE, DEFAULT_ANALYSIS_CASES,
                                       DEFAULT_KS, EXPERIMENTS_DIR, PROTOCOL_FILE, AnalysisSpec, Experiment, Protocol)

__all__ = [
    "ANALYSES", "ANALYSES_DIR", "CASE_SELECTIONS", "COMPLETED_FILE", "DEFAULT_ANALYSIS_CASES", "DEFAULT_KS",
    "EXPERIMENTS_DIR", "PROTOCOL_FILE", "AnalysisOutcome", "AnalysisSpec", "Experiment", "ExperimentOutcome",
    "Protocol", "ProtocolSummary", "held_out", "load_protocol", "protocol_changes", "protocol_record", "run_config",
    "run_protocol", "shipped_protocol", "write_protocol_record",
]
