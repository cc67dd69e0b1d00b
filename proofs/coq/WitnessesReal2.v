(* Refuted commute-* cells (checked with --full: the interval proofs take about 12 s of CPU per file) whose rules need ln, exp or sqrt (typical, eta, top-n-sigma, repetition,
   and their pairs), part 2 of 5: the rules over real weights are Witnesses.v's (stepR, applyR),
   each comparison decided by the Interval tactic. Both ordered ids of a pair share one witness. *)

From Coq Require Import Reals List.
From SamplerProofs Require Import Witnesses.
Import ListNotations.
Open Scope R_scope.

(* logits z = (log 1, log 1, log 2), T = 1/2, eta's epsilon = 1/5: temperature then eta keeps {2} with probabilities (1); eta then temperature keeps {0, 1, 2} with probabilities (0.166667, 0.166667, 0.666667) *)
Lemma commute_eta_temperature_sets :
  keepR (chainR [(EtaR (1/5)); (TemperatureR 2)] (map Some [1; 1; 2])) = [true; true; true] /\
  keepR (chainR [(TemperatureR 2); (EtaR (1/5))] (map Some [1; 1; 2])) = [false; false; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-eta-temperature *)
Theorem commute_eta_temperature : commute_fails_R (EtaR (1/5)) (TemperatureR 2) [1; 1; 2].
Proof. apply (refute_by_sets _ _ _ _ _ commute_eta_temperature_sets); discriminate. Qed.

(* theorem: commute-temperature-eta *)
Theorem commute_temperature_eta : commute_fails_R (TemperatureR 2) (EtaR (1/5)) [1; 1; 2].
Proof. apply commute_fails_R_sym, commute_eta_temperature. Qed.

(* logits z = (log 1, log 2, log 3), m = 2/5, typical mass = 1/5: min-p then typical keeps {2} with probabilities (1); typical then min-p keeps {1} with probabilities (1) *)
Lemma commute_min_p_typical_sets :
  keepR (chainR [(MinPR (2/5)); (TypicalR (1/5))] (map Some [1; 2; 3])) = [false; false; true] /\
  keepR (chainR [(TypicalR (1/5)); (MinPR (2/5))] (map Some [1; 2; 3])) = [false; true; false].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-min-p-typical *)
Theorem commute_min_p_typical : commute_fails_R (MinPR (2/5)) (TypicalR (1/5)) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_min_p_typical_sets); discriminate. Qed.

(* theorem: commute-typical-min-p *)
Theorem commute_typical_min_p : commute_fails_R (TypicalR (1/5)) (MinPR (2/5)) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_min_p_typical. Qed.

(* logits z = (log 1, log 1, log 2), b = (log 1, log 1, log 2), theta = 2, seen tokens {2}: bias then repetition keeps {0, 1, 2} with probabilities (0.25, 0.25, 0.5); repetition then bias keeps {0, 1, 2} with probabilities (0.207107, 0.207107, 0.585786) *)
Lemma commute_bias_repetition_sets :
  keepR (chainR [(BiasR [1; 1; 2]); (RepetitionR 2 [false; false; true])] (map Some [1; 1; 2])) = [true; true; true] /\
  keepR (chainR [(RepetitionR 2 [false; false; true]); (BiasR [1; 1; 2])] (map Some [1; 1; 2])) = [true; true; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-bias-repetition *)
Theorem commute_bias_repetition : commute_fails_R (BiasR [1; 1; 2]) (RepetitionR 2 [false; false; true]) [1; 1; 2].
Proof. refute_dist_R. Qed.

(* theorem: commute-repetition-bias *)
Theorem commute_repetition_bias : commute_fails_R (RepetitionR 2 [false; false; true]) (BiasR [1; 1; 2]) [1; 1; 2].
Proof. apply commute_fails_R_sym, commute_bias_repetition. Qed.

(* logits z = (log 1, log 1, log 2), b = (log 1, log 1, log 2), eta's epsilon = 1/5: bias then eta keeps {2} with probabilities (1); eta then bias keeps {0, 1, 2} with probabilities (0.166667, 0.166667, 0.666667) *)
Lemma commute_bias_eta_sets :
  keepR (chainR [(BiasR [1; 1; 2]); (EtaR (1/5))] (map Some [1; 1; 2])) = [false; false; true] /\
  keepR (chainR [(EtaR (1/5)); (BiasR [1; 1; 2])] (map Some [1; 1; 2])) = [true; true; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-bias-eta *)
Theorem commute_bias_eta : commute_fails_R (BiasR [1; 1; 2]) (EtaR (1/5)) [1; 1; 2].
Proof. apply (refute_by_sets _ _ _ _ _ commute_bias_eta_sets); discriminate. Qed.

(* theorem: commute-eta-bias *)
Theorem commute_eta_bias : commute_fails_R (EtaR (1/5)) (BiasR [1; 1; 2]) [1; 1; 2].
Proof. apply commute_fails_R_sym, commute_bias_eta. Qed.

(* logits z = (log 1, log 2, log 3), theta = 2, seen tokens {2}, typical mass = 1/5: repetition then typical keeps {2} with probabilities (1); typical then repetition keeps {1} with probabilities (1) *)
Lemma commute_repetition_typical_sets :
  keepR (chainR [(RepetitionR 2 [false; false; true]); (TypicalR (1/5))] (map Some [1; 2; 3])) = [false; false; true] /\
  keepR (chainR [(TypicalR (1/5)); (RepetitionR 2 [false; false; true])] (map Some [1; 2; 3])) = [false; true; false].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-repetition-typical *)
Theorem commute_repetition_typical : commute_fails_R (RepetitionR 2 [false; false; true]) (TypicalR (1/5)) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_repetition_typical_sets); discriminate. Qed.

(* theorem: commute-typical-repetition *)
Theorem commute_typical_repetition : commute_fails_R (TypicalR (1/5)) (RepetitionR 2 [false; false; true]) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_repetition_typical. Qed.

(* logits z = (log 1, log 2, log 3), theta = 2, seen tokens {2}, XTC threshold = 1/5 (the branch where it acts): repetition then xtc keeps {0} with probabilities (1); xtc then repetition keeps {0, 1} with probabilities (0.333333, 0.666667) *)
Lemma commute_repetition_xtc_sets :
  keepR (chainR [(RepetitionR 2 [false; false; true]); (XTCR (1/5))] (map Some [1; 2; 3])) = [true; false; false] /\
  keepR (chainR [(XTCR (1/5)); (RepetitionR 2 [false; false; true])] (map Some [1; 2; 3])) = [true; true; false].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-repetition-xtc *)
Theorem commute_repetition_xtc : commute_fails_R (RepetitionR 2 [false; false; true]) (XTCR (1/5)) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_repetition_xtc_sets); discriminate. Qed.

(* theorem: commute-xtc-repetition *)
Theorem commute_xtc_repetition : commute_fails_R (XTCR (1/5)) (RepetitionR 2 [false; false; true]) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_repetition_xtc. Qed.

(* logits z = (log 1, log 2, log 3), epsilon = 1/5, n = 1: epsilon then top-n-sigma keeps {2} with probabilities (1); top-n-sigma then epsilon keeps {1, 2} with probabilities (0.4, 0.6) *)
Lemma commute_epsilon_top_n_sigma_sets :
  keepR (chainR [(EpsilonR (1/5)); (TopNSigmaR 1)] (map Some [1; 2; 3])) = [false; false; true] /\
  keepR (chainR [(TopNSigmaR 1); (EpsilonR (1/5))] (map Some [1; 2; 3])) = [false; true; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-epsilon-top-n-sigma *)
Theorem commute_epsilon_top_n_sigma : commute_fails_R (EpsilonR (1/5)) (TopNSigmaR 1) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_epsilon_top_n_sigma_sets); discriminate. Qed.

(* theorem: commute-top-n-sigma-epsilon *)
Theorem commute_top_n_sigma_epsilon : commute_fails_R (TopNSigmaR 1) (EpsilonR (1/5)) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_epsilon_top_n_sigma. Qed.
