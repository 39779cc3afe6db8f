"""RL hooks: rewards, fair rollouts, GRPO for the router, trajectories and TRL datasets.

- :mod:`evals.rl.rewards`: rewards as plain functions over an outcome, and their CoMAM-style mix;
- :mod:`evals.rl.rollouts`: read-side rollouts on a frozen view, kept per (question, action,
  budget); :mod:`evals.rl.writes`: write-side rollouts, each on its own fork of one data folder;
- :mod:`evals.rl.grpo`: group advantages, the clipped update and the KL penalty, in NumPy;
- :mod:`evals.rl.router`, :mod:`evals.rl.train`, :mod:`evals.rl.validate`: the learned router,
  its training and its leave-one-conversation-out validation;
- :mod:`evals.rl.trajectories`: rollouts as JSON lines; :mod:`evals.rl.trl`: TRL datasets and
  reward functions for the LLM-mode agents.
"""
