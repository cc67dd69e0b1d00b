(* Refuted commute-* cells (checked with --full: the interval proofs take about 12 s of CPU per file) whose rules need ln, exp or sqrt (typical, eta, top-n-sigma, repetition,
   and their pairs), part 3 of 5: the rules over real weights are Witnesses.v's (stepR, applyR),
   each comparison decided by the Interval tactic. Both ordered ids of a pair share one witness. *)

From Coq Require Import Reals List.
From SamplerProofs Require Import Witnesses.
Import ListNotations.
Open Scope R_scope.

(* logits z = (log 1, log 2, log 3), K = 2, n = 1: top-k-exact then top-n-sigma keeps {2} with probabilities (1); top-n-sigma then top-k-exact keeps {1, 2} with probabilities (0.4, 0.6) *)
Lemma commute_top_k_exact_top_n_sigma_sets :
  keepR (chainR [(TopKExactR 2); (TopNSigmaR 1)] (map Some [1; 2; 3])) = [false; false; true] /\
  keepR (chainR [(TopNSigmaR 1); (TopKExactR 2)] (map Some [1; 2; 3])) = [false; true; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-top-k-exact-top-n-sigma *)
Theorem commute_top_k_exact_top_n_sigma : commute_fails_R (TopKExactR 2) (TopNSigmaR 1) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_top_k_exact_top_n_sigma_sets); discriminate. Qed.

(* theorem: commute-top-n-sigma-top-k-exact *)
Theorem commute_top_n_sigma_top_k_exact : commute_fails_R (TopNSigmaR 1) (TopKExactR 2) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_top_k_exact_top_n_sigma. Qed.

(* logits z = (log 1, log 2, log 3), p = 1/5, theta = 2, seen tokens {2}: top-p then repetition keeps {2} with probabilities (1); repetition then top-p keeps {1} with probabilities (1) *)
Lemma commute_repetition_top_p_sets :
  keepR (chainR [(RepetitionR 2 [false; false; true]); (TopPR (1/5))] (map Some [1; 2; 3])) = [false; true; false] /\
  keepR (chainR [(TopPR (1/5)); (RepetitionR 2 [false; false; true])] (map Some [1; 2; 3])) = [false; false; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-repetition-top-p *)
Theorem commute_repetition_top_p : commute_fails_R (RepetitionR 2 [false; false; true]) (TopPR (1/5)) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_repetition_top_p_sets); discriminate. Qed.

(* theorem: commute-top-p-repetition *)
Theorem commute_top_p_repetition : commute_fails_R (TopPR (1/5)) (RepetitionR 2 [false; false; true]) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_repetition_top_p. Qed.

(* logits z = (log 1, log 2, log 3), m = 2/5, n = 1: min-p then top-n-sigma keeps {2} with probabilities (1); top-n-sigma then min-p keeps {1, 2} with probabilities (0.4, 0.6) *)
Lemma commute_min_p_top_n_sigma_sets :
  keepR (chainR [(MinPR (2/5)); (TopNSigmaR 1)] (map Some [1; 2; 3])) = [false; false; true] /\
  keepR (chainR [(TopNSigmaR 1); (MinPR (2/5))] (map Some [1; 2; 3])) = [false; true; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-min-p-top-n-sigma *)
Theorem commute_min_p_top_n_sigma : commute_fails_R (MinPR (2/5)) (TopNSigmaR 1) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_min_p_top_n_sigma_sets); discriminate. Qed.

(* theorem: commute-top-n-sigma-min-p *)
Theorem commute_top_n_sigma_min_p : commute_fails_R (TopNSigmaR 1) (MinPR (2/5)) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_min_p_top_n_sigma. Qed.

(* logits z = (log 1, log 2, log 3), b = (log 1, log 1, log 2), typical mass = 1/5: bias then typical keeps {2} with probabilities (1); typical then bias keeps {1} with probabilities (1) *)
Lemma commute_bias_typical_sets :
  keepR (chainR [(BiasR [1; 1; 2]); (TypicalR (1/5))] (map Some [1; 2; 3])) = [false; false; true] /\
  keepR (chainR [(TypicalR (1/5)); (BiasR [1; 1; 2])] (map Some [1; 2; 3])) = [false; true; false].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-bias-typical *)
Theorem commute_bias_typical : commute_fails_R (BiasR [1; 1; 2]) (TypicalR (1/5)) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_bias_typical_sets); discriminate. Qed.

(* theorem: commute-typical-bias *)
Theorem commute_typical_bias : commute_fails_R (TypicalR (1/5)) (BiasR [1; 1; 2]) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_bias_typical. Qed.

(* logits z = (log 1, log 2, log 2), theta = 2, seen tokens {2}, eta's epsilon = 2/5: repetition then eta keeps {0, 1, 2} with probabilities (0.226541, 0.453082, 0.320377); eta then repetition keeps {1, 2} with probabilities (0.585786, 0.414214) *)
Lemma commute_eta_repetition_sets :
  keepR (chainR [(EtaR (2/5)); (RepetitionR 2 [false; false; true])] (map Some [1; 2; 2])) = [false; true; true] /\
  keepR (chainR [(RepetitionR 2 [false; false; true]); (EtaR (2/5))] (map Some [1; 2; 2])) = [true; true; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-eta-repetition *)
Theorem commute_eta_repetition : commute_fails_R (EtaR (2/5)) (RepetitionR 2 [false; false; true]) [1; 2; 2].
Proof. apply (refute_by_sets _ _ _ _ _ commute_eta_repetition_sets); discriminate. Qed.

(* theorem: commute-repetition-eta *)
Theorem commute_repetition_eta : commute_fails_R (RepetitionR 2 [false; false; true]) (EtaR (2/5)) [1; 2; 2].
Proof. apply commute_fails_R_sym, commute_eta_repetition. Qed.

(* logits z = (log 1, log 2, log 3), typical mass = 4/5, n = 1: typical then top-n-sigma keeps {2} with probabilities (1); top-n-sigma then typical keeps {1, 2} with probabilities (0.4, 0.6) *)
Lemma commute_top_n_sigma_typical_sets :
  keepR (chainR [(TopNSigmaR 1); (TypicalR (4/5))] (map Some [1; 2; 3])) = [false; true; true] /\
  keepR (chainR [(TypicalR (4/5)); (TopNSigmaR 1)] (map Some [1; 2; 3])) = [false; false; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-top-n-sigma-typical *)
Theorem commute_top_n_sigma_typical : commute_fails_R (TopNSigmaR 1) (TypicalR (4/5)) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_top_n_sigma_typical_sets); discriminate. Qed.

(* theorem: commute-typical-top-n-sigma *)
Theorem commute_typical_top_n_sigma : commute_fails_R (TypicalR (4/5)) (TopNSigmaR 1) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_top_n_sigma_typical. Qed.

(* logits z = (log 1, log 2, log 4), epsilon = 1/5, eta's epsilon = 2/5: epsilon then eta keeps {2} with probabilities (1); eta then epsilon keeps {1, 2} with probabilities (0.333333, 0.666667) *)
Lemma commute_epsilon_eta_sets :
  keepR (chainR [(EpsilonR (1/5)); (EtaR (2/5))] (map Some [1; 2; 4])) = [false; false; true] /\
  keepR (chainR [(EtaR (2/5)); (EpsilonR (1/5))] (map Some [1; 2; 4])) = [false; true; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-epsilon-eta *)
Theorem commute_epsilon_eta : commute_fails_R (EpsilonR (1/5)) (EtaR (2/5)) [1; 2; 4].
Proof. apply (refute_by_sets _ _ _ _ _ commute_epsilon_eta_sets); discriminate. Qed.

(* theorem: commute-eta-epsilon *)
Theorem commute_eta_epsilon : commute_fails_R (EtaR (2/5)) (EpsilonR (1/5)) [1; 2; 4].
Proof. apply commute_fails_R_sym, commute_epsilon_eta. Qed.
