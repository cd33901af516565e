/**
 * What each stored metric is, for a plot's title and axis and a progress line: the learner's
 * (UpdateMetrics, the worker's pace figures, the loop's) and the learning curves of the episodes
 * (src/studio/curves.ts). Units: '%' is 0–100; 'nats' for entropies; '' for a pure number.
 */
export const METRIC_INFO: Record<string, { title: string; unit: string }> = {
  alone_success: { title: 'Success of the episodes the policy drove alone (last 10)', unit: '%' },
  alone_return: {
    title: 'Return of the episodes the policy drove alone (last 10)',
    unit: 'return',
  },
  intervention_rate: {
    title: 'Steps the operator drove, of the last 10 training episodes',
    unit: '%',
  },
  eval_success: { title: 'Evaluation success (the mean action alone, fixed seeds)', unit: '%' },
  update_to_data: {
    title: 'Effective update-to-data ratio (learner steps per online transition)',
    unit: '×',
  },
  critic_loss: { title: 'Critic loss (TD error², mean over critics)', unit: 'Q²' },
  q_mean: { title: 'Mean Q of the batch', unit: 'Q' },
  q_std: { title: 'Q spread across the ensemble', unit: 'Q' },
  q_max: { title: 'Largest Q of the batch', unit: 'Q' },
  q_abs_mean: { title: 'Mean |Q| of the batch', unit: 'Q' },
  td_target_mean: { title: 'Mean TD target', unit: 'Q' },
  q_demo_action: { title: "Q of the demos' own actions (demo states)", unit: 'Q' },
  q_policy_action: { title: "Q of the policy's mean action (demo states)", unit: 'Q' },
  q_policy_spread: {
    title: "Ensemble spread of Q on the policy's action (demo states)",
    unit: 'Q',
  },
  grasp_loss: { title: 'Grasp critic loss (discrete gripper)', unit: '' },
  grasp_q_mean: { title: "Grasp critic's Q of the batch's choices", unit: 'Q' },
  grasp_change_rate: { title: 'Gripper changes in the batch (open or close)', unit: 'share' },
  actor_loss: { title: 'Actor loss', unit: '' },
  entropy: { title: 'Policy entropy', unit: 'nats' },
  temperature: { title: 'Temperature α', unit: '' },
  target_entropy: { title: 'Target entropy', unit: 'nats' },
  bc_loss: { title: 'BC loss on the demo rows (‖tanh μ − a‖²)', unit: '' },
  bc_weight: { title: 'BC weight β', unit: '' },
  q_term_scale: { title: 'Q term scale λ = 1/mean|Q|', unit: '1/Q' },
  critic_grad_norm: { title: 'Critic gradient norm', unit: '' },
  actor_grad_norm: { title: 'Actor gradient norm', unit: '' },
  reward_mean: { title: 'Mean reward of the batch', unit: 'reward' },
  reward_min: { title: 'Smallest reward of the batch', unit: 'reward' },
  reward_max: { title: 'Largest reward of the batch', unit: 'reward' },
  online_size: { title: 'Online buffer', unit: 'transitions' },
  demo_size: { title: 'Demo buffer', unit: 'transitions' },
  adv_weight_mean: { title: 'Mean advantage weight (awr)', unit: '' },
  adv_weight_max: { title: 'Largest advantage weight (awr)', unit: '' },
  updates_per_s: { title: 'Learner updates per second', unit: 'updates/s' },
  tensors: { title: 'Live tensors in the learner', unit: 'tensors' },
  transitions_received: { title: 'Transitions the learner has taken in', unit: 'transitions' },
  envSteps: { title: 'Environment steps', unit: 'steps' },
  random_reward_mean: { title: 'Mean reward of random actions (warm-up)', unit: 'reward' },
};

/** A metric's title and unit; an unknown name is its own title. */
export function metricInfo(name: string): { title: string; unit: string } {
  return METRIC_INFO[name] ?? { title: name, unit: '' };
}
