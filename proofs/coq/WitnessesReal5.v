(* Refuted commute-* cells (checked with --full: the interval proofs take about 12 s of CPU per file) whose rules need ln, exp or sqrt (typical, eta, top-n-sigma, repetition,
   and their pairs), part 5 of 5: the rules over real weights are Witnesses.v's (stepR, applyR),
   each comparison decided by the Interval tactic. Both ordered ids of a pair share one witness. *)

From Coq Require Import Reals List.
From SamplerProofs Require Import Witnesses.
Import ListNotations.
Open Scope R_scope.

(* logits z = (log 1, log 2, log 3), K = 1, theta = 2, seen tokens {2}: top-k then repetition keeps {2} with probabilities (1); repetition then top-k keeps {1} with probabilities (1) *)
Lemma commute_repetition_top_k_sets :
  keepR (chainR [(RepetitionR 2 [false; false; true]); (TopKR 1)] (map Some [1; 2; 3])) = [false; true; false] /\
  keepR (chainR [(TopKR 1); (RepetitionR 2 [false; false; true])] (map Some [1; 2; 3])) = [false; false; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-repetition-top-k *)
Theorem commute_repetition_top_k : commute_fails_R (RepetitionR 2 [false; false; true]) (TopKR 1) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_repetition_top_k_sets); discriminate. Qed.

(* theorem: commute-top-k-repetition *)
Theorem commute_top_k_repetition : commute_fails_R (TopKR 1) (RepetitionR 2 [false; false; true]) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_repetition_top_k. Qed.

(* logits z = (log 1, log 2, log 3), K = 2, typical mass = 1/5: top-k then typical keeps {2} with probabilities (1); typical then top-k keeps {1} with probabilities (1) *)
Lemma commute_top_k_typical_sets :
  keepR (chainR [(TopKR 2); (TypicalR (1/5))] (map Some [1; 2; 3])) = [false; false; true] /\
  keepR (chainR [(TypicalR (1/5)); (TopKR 2)] (map Some [1; 2; 3])) = [false; true; false].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-top-k-typical *)
Theorem commute_top_k_typical : commute_fails_R (TopKR 2) (TypicalR (1/5)) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_top_k_typical_sets); discriminate. Qed.

(* theorem: commute-typical-top-k *)
Theorem commute_typical_top_k : commute_fails_R (TypicalR (1/5)) (TopKR 2) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_top_k_typical. Qed.

(* logits z = (log 1, log 2, log 3), K = 1, theta = 2, seen tokens {2}: top-k-exact then repetition keeps {2} with probabilities (1); repetition then top-k-exact keeps {1} with probabilities (1) *)
Lemma commute_repetition_top_k_exact_sets :
  keepR (chainR [(RepetitionR 2 [false; false; true]); (TopKExactR 1)] (map Some [1; 2; 3])) = [false; true; false] /\
  keepR (chainR [(TopKExactR 1); (RepetitionR 2 [false; false; true])] (map Some [1; 2; 3])) = [false; false; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-repetition-top-k-exact *)
Theorem commute_repetition_top_k_exact : commute_fails_R (RepetitionR 2 [false; false; true]) (TopKExactR 1) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_repetition_top_k_exact_sets); discriminate. Qed.

(* theorem: commute-top-k-exact-repetition *)
Theorem commute_top_k_exact_repetition : commute_fails_R (TopKExactR 1) (RepetitionR 2 [false; false; true]) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_repetition_top_k_exact. Qed.

(* logits z = (log 1, log 2, log 3), p = 3/5, typical mass = 1/5: top-p then typical keeps {2} with probabilities (1); typical then top-p keeps {1} with probabilities (1) *)
Lemma commute_top_p_typical_sets :
  keepR (chainR [(TopPR (3/5)); (TypicalR (1/5))] (map Some [1; 2; 3])) = [false; false; true] /\
  keepR (chainR [(TypicalR (1/5)); (TopPR (3/5))] (map Some [1; 2; 3])) = [false; true; false].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-top-p-typical *)
Theorem commute_top_p_typical : commute_fails_R (TopPR (3/5)) (TypicalR (1/5)) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_top_p_typical_sets); discriminate. Qed.

(* theorem: commute-typical-top-p *)
Theorem commute_typical_top_p : commute_fails_R (TypicalR (1/5)) (TopPR (3/5)) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_top_p_typical. Qed.

(* logits z = (log 1, log 2, log 1), b = (log 1, log 1, log 3), n = 1/2: bias then top-n-sigma keeps {2} with probabilities (1); top-n-sigma then bias keeps {1} with probabilities (1) *)
Lemma commute_bias_top_n_sigma_sets :
  keepR (chainR [(BiasR [1; 1; 3]); (TopNSigmaR (1/2))] (map Some [1; 2; 1])) = [false; false; true] /\
  keepR (chainR [(TopNSigmaR (1/2)); (BiasR [1; 1; 3])] (map Some [1; 2; 1])) = [false; true; false].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-bias-top-n-sigma *)
Theorem commute_bias_top_n_sigma : commute_fails_R (BiasR [1; 1; 3]) (TopNSigmaR (1/2)) [1; 2; 1].
Proof. apply (refute_by_sets _ _ _ _ _ commute_bias_top_n_sigma_sets); discriminate. Qed.

(* theorem: commute-top-n-sigma-bias *)
Theorem commute_top_n_sigma_bias : commute_fails_R (TopNSigmaR (1/2)) (BiasR [1; 1; 3]) [1; 2; 1].
Proof. apply commute_fails_R_sym, commute_bias_top_n_sigma. Qed.

(* logits z = (log 1, log 2, log 3), theta = 2, seen tokens {2}, n = 1/2: repetition then top-n-sigma keeps {1, 2} with probabilities (0.535898, 0.464102); top-n-sigma then repetition keeps {2} with probabilities (1) *)
Lemma commute_repetition_top_n_sigma_sets :
  keepR (chainR [(RepetitionR 2 [false; false; true]); (TopNSigmaR (1/2))] (map Some [1; 2; 3])) = [false; true; true] /\
  keepR (chainR [(TopNSigmaR (1/2)); (RepetitionR 2 [false; false; true])] (map Some [1; 2; 3])) = [false; false; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-repetition-top-n-sigma *)
Theorem commute_repetition_top_n_sigma : commute_fails_R (RepetitionR 2 [false; false; true]) (TopNSigmaR (1/2)) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_repetition_top_n_sigma_sets); discriminate. Qed.

(* theorem: commute-top-n-sigma-repetition *)
Theorem commute_top_n_sigma_repetition : commute_fails_R (TopNSigmaR (1/2)) (RepetitionR 2 [false; false; true]) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_repetition_top_n_sigma. Qed.

(* logits z = (log 1, log 2, log 3), typical mass = 1/5, epsilon = 1/5: typical then epsilon keeps {1} with probabilities (1); epsilon then typical keeps {2} with probabilities (1) *)
Lemma commute_epsilon_typical_sets :
  keepR (chainR [(EpsilonR (1/5)); (TypicalR (1/5))] (map Some [1; 2; 3])) = [false; false; true] /\
  keepR (chainR [(TypicalR (1/5)); (EpsilonR (1/5))] (map Some [1; 2; 3])) = [false; true; false].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-epsilon-typical *)
Theorem commute_epsilon_typical : commute_fails_R (EpsilonR (1/5)) (TypicalR (1/5)) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_epsilon_typical_sets); discriminate. Qed.

(* theorem: commute-typical-epsilon *)
Theorem commute_typical_epsilon : commute_fails_R (TypicalR (1/5)) (EpsilonR (1/5)) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_epsilon_typical. Qed.

(* logits z = (log 1, log 2, log 3), eta's epsilon = 3/10, n = 1: eta then top-n-sigma keeps {2} with probabilities (1); top-n-sigma then eta keeps {1, 2} with probabilities (0.4, 0.6) *)
Lemma commute_eta_top_n_sigma_sets :
  keepR (chainR [(EtaR (3/10)); (TopNSigmaR 1)] (map Some [1; 2; 3])) = [false; false; true] /\
  keepR (chainR [(TopNSigmaR 1); (EtaR (3/10))] (map Some [1; 2; 3])) = [false; true; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-eta-top-n-sigma *)
Theorem commute_eta_top_n_sigma : commute_fails_R (EtaR (3/10)) (TopNSigmaR 1) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_eta_top_n_sigma_sets); discriminate. Qed.

(* theorem: commute-top-n-sigma-eta *)
Theorem commute_top_n_sigma_eta : commute_fails_R (TopNSigmaR 1) (EtaR (3/10)) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_eta_top_n_sigma. Qed.
