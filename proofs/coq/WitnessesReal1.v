(* Refuted commute-* cells (checked with --full: the interval proofs take about 12 s of CPU per file) whose rules need ln, exp or sqrt (typical, eta, top-n-sigma, repetition,
   and their pairs), part 1 of 5: the rules over real weights are Witnesses.v's (stepR, applyR),
   each comparison decided by the Interval tactic. Both ordered ids of a pair share one witness. *)

From Coq Require Import Reals List.
From SamplerProofs Require Import Witnesses.
Import ListNotations.
Open Scope R_scope.

(* logits z = (log 1, log 2, log 3), T = 1/2, typical mass = 1/5: temperature then typical keeps {2} with probabilities (1); typical then temperature keeps {1} with probabilities (1) *)
Lemma commute_temperature_typical_sets :
  keepR (chainR [(TemperatureR 2); (TypicalR (1/5))] (map Some [1; 2; 3])) = [false; false; true] /\
  keepR (chainR [(TypicalR (1/5)); (TemperatureR 2)] (map Some [1; 2; 3])) = [false; true; false].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-temperature-typical *)
Theorem commute_temperature_typical : commute_fails_R (TemperatureR 2) (TypicalR (1/5)) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_temperature_typical_sets); discriminate. Qed.

(* theorem: commute-typical-temperature *)
Theorem commute_typical_temperature : commute_fails_R (TypicalR (1/5)) (TemperatureR 2) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_temperature_typical. Qed.

(* logits z = (log 1, log 2, log 4), K = 2, eta's epsilon = 2/5: top-k then eta keeps {2} with probabilities (1); eta then top-k keeps {1, 2} with probabilities (0.333333, 0.666667) *)
Lemma commute_eta_top_k_sets :
  keepR (chainR [(EtaR (2/5)); (TopKR 2)] (map Some [1; 2; 4])) = [false; true; true] /\
  keepR (chainR [(TopKR 2); (EtaR (2/5))] (map Some [1; 2; 4])) = [false; false; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-eta-top-k *)
Theorem commute_eta_top_k : commute_fails_R (EtaR (2/5)) (TopKR 2) [1; 2; 4].
Proof. apply (refute_by_sets _ _ _ _ _ commute_eta_top_k_sets); discriminate. Qed.

(* theorem: commute-top-k-eta *)
Theorem commute_top_k_eta : commute_fails_R (TopKR 2) (EtaR (2/5)) [1; 2; 4].
Proof. apply commute_fails_R_sym, commute_eta_top_k. Qed.

(* logits z = (log 1, log 2, log 4), K = 2, eta's epsilon = 2/5: top-k-exact then eta keeps {2} with probabilities (1); eta then top-k-exact keeps {1, 2} with probabilities (0.333333, 0.666667) *)
Lemma commute_eta_top_k_exact_sets :
  keepR (chainR [(EtaR (2/5)); (TopKExactR 2)] (map Some [1; 2; 4])) = [false; true; true] /\
  keepR (chainR [(TopKExactR 2); (EtaR (2/5))] (map Some [1; 2; 4])) = [false; false; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-eta-top-k-exact *)
Theorem commute_eta_top_k_exact : commute_fails_R (EtaR (2/5)) (TopKExactR 2) [1; 2; 4].
Proof. apply (refute_by_sets _ _ _ _ _ commute_eta_top_k_exact_sets); discriminate. Qed.

(* theorem: commute-top-k-exact-eta *)
Theorem commute_top_k_exact_eta : commute_fails_R (TopKExactR 2) (EtaR (2/5)) [1; 2; 4].
Proof. apply commute_fails_R_sym, commute_eta_top_k_exact. Qed.

(* logits z = (log 1, log 2, log 3), p = 4/5, n = 1: top-p then top-n-sigma keeps {2} with probabilities (1); top-n-sigma then top-p keeps {1, 2} with probabilities (0.4, 0.6) *)
Lemma commute_top_n_sigma_top_p_sets :
  keepR (chainR [(TopNSigmaR 1); (TopPR (4/5))] (map Some [1; 2; 3])) = [false; true; true] /\
  keepR (chainR [(TopPR (4/5)); (TopNSigmaR 1)] (map Some [1; 2; 3])) = [false; false; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-top-n-sigma-top-p *)
Theorem commute_top_n_sigma_top_p : commute_fails_R (TopNSigmaR 1) (TopPR (4/5)) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_top_n_sigma_top_p_sets); discriminate. Qed.

(* theorem: commute-top-p-top-n-sigma *)
Theorem commute_top_p_top_n_sigma : commute_fails_R (TopPR (4/5)) (TopNSigmaR 1) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_top_n_sigma_top_p. Qed.

(* logits z = (log 1, log 2, log 1), m = 3/5, theta = 2, seen tokens {1}: min-p then repetition keeps {1} with probabilities (1); repetition then min-p keeps {0, 1, 2} with probabilities (0.292893, 0.414214, 0.292893) *)
Lemma commute_min_p_repetition_sets :
  keepR (chainR [(MinPR (3/5)); (RepetitionR 2 [false; true; false])] (map Some [1; 2; 1])) = [false; true; false] /\
  keepR (chainR [(RepetitionR 2 [false; true; false]); (MinPR (3/5))] (map Some [1; 2; 1])) = [true; true; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-min-p-repetition *)
Theorem commute_min_p_repetition : commute_fails_R (MinPR (3/5)) (RepetitionR 2 [false; true; false]) [1; 2; 1].
Proof. apply (refute_by_sets _ _ _ _ _ commute_min_p_repetition_sets); discriminate. Qed.

(* theorem: commute-repetition-min-p *)
Theorem commute_repetition_min_p : commute_fails_R (RepetitionR 2 [false; true; false]) (MinPR (3/5)) [1; 2; 1].
Proof. apply commute_fails_R_sym, commute_min_p_repetition. Qed.

(* logits z = (log 2, log 2, log 2), theta = 2, seen tokens {2}, epsilon = 3/10: repetition then epsilon keeps {0, 1} with probabilities (0.5, 0.5); epsilon then repetition keeps {0, 1, 2} with probabilities (0.369398, 0.369398, 0.261204) *)
Lemma commute_epsilon_repetition_sets :
  keepR (chainR [(EpsilonR (3/10)); (RepetitionR 2 [false; false; true])] (map Some [2; 2; 2])) = [true; true; true] /\
  keepR (chainR [(RepetitionR 2 [false; false; true]); (EpsilonR (3/10))] (map Some [2; 2; 2])) = [true; true; false].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-epsilon-repetition *)
Theorem commute_epsilon_repetition : commute_fails_R (EpsilonR (3/10)) (RepetitionR 2 [false; false; true]) [2; 2; 2].
Proof. apply (refute_by_sets _ _ _ _ _ commute_epsilon_repetition_sets); discriminate. Qed.

(* theorem: commute-repetition-epsilon *)
Theorem commute_repetition_epsilon : commute_fails_R (RepetitionR 2 [false; false; true]) (EpsilonR (3/10)) [2; 2; 2].
Proof. apply commute_fails_R_sym, commute_epsilon_repetition. Qed.

(* logits z = (log 1, log 2, log 3), eta's epsilon = 3/10, XTC threshold = 1/10 (the branch where it acts): eta then xtc keeps {1} with probabilities (1); xtc then eta keeps {0} with probabilities (1) *)
Lemma commute_eta_xtc_sets :
  keepR (chainR [(EtaR (3/10)); (XTCR (1/10))] (map Some [1; 2; 3])) = [false; true; false] /\
  keepR (chainR [(XTCR (1/10)); (EtaR (3/10))] (map Some [1; 2; 3])) = [true; false; false].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-eta-xtc *)
Theorem commute_eta_xtc : commute_fails_R (EtaR (3/10)) (XTCR (1/10)) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_eta_xtc_sets); discriminate. Qed.

(* theorem: commute-xtc-eta *)
Theorem commute_xtc_eta : commute_fails_R (XTCR (1/10)) (EtaR (3/10)) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_eta_xtc. Qed.
