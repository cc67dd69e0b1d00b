(* Refuted commute-* cells (checked with --full: the interval proofs take about 12 s of CPU per file) whose rules need ln, exp or sqrt (typical, eta, top-n-sigma, repetition,
   and their pairs), part 4 of 5: the rules over real weights are Witnesses.v's (stepR, applyR),
   each comparison decided by the Interval tactic. Both ordered ids of a pair share one witness. *)

From Coq Require Import Reals List.
From SamplerProofs Require Import Witnesses.
Import ListNotations.
Open Scope R_scope.

(* logits z = (log 1, log 2, log 3), K = 2, n = 1: top-k then top-n-sigma keeps {2} with probabilities (1); top-n-sigma then top-k keeps {1, 2} with probabilities (0.4, 0.6) *)
Lemma commute_top_k_top_n_sigma_sets :
  keepR (chainR [(TopKR 2); (TopNSigmaR 1)] (map Some [1; 2; 3])) = [false; false; true] /\
  keepR (chainR [(TopNSigmaR 1); (TopKR 2)] (map Some [1; 2; 3])) = [false; true; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-top-k-top-n-sigma *)
Theorem commute_top_k_top_n_sigma : commute_fails_R (TopKR 2) (TopNSigmaR 1) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_top_k_top_n_sigma_sets); discriminate. Qed.

(* theorem: commute-top-n-sigma-top-k *)
Theorem commute_top_n_sigma_top_k : commute_fails_R (TopNSigmaR 1) (TopKR 2) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_top_k_top_n_sigma. Qed.

(* logits z = (log 1, log 2, log 3), K = 2, typical mass = 1/5: top-k-exact then typical keeps {2} with probabilities (1); typical then top-k-exact keeps {1} with probabilities (1) *)
Lemma commute_top_k_exact_typical_sets :
  keepR (chainR [(TopKExactR 2); (TypicalR (1/5))] (map Some [1; 2; 3])) = [false; false; true] /\
  keepR (chainR [(TypicalR (1/5)); (TopKExactR 2)] (map Some [1; 2; 3])) = [false; true; false].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-top-k-exact-typical *)
Theorem commute_top_k_exact_typical : commute_fails_R (TopKExactR 2) (TypicalR (1/5)) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_top_k_exact_typical_sets); discriminate. Qed.

(* theorem: commute-typical-top-k-exact *)
Theorem commute_typical_top_k_exact : commute_fails_R (TypicalR (1/5)) (TopKExactR 2) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_top_k_exact_typical. Qed.

(* logits z = (log 1, log 2, log 4), p = 3/5, eta's epsilon = 1/5: top-p then eta keeps {1, 2} with probabilities (0.333333, 0.666667); eta then top-p keeps {2} with probabilities (1) *)
Lemma commute_eta_top_p_sets :
  keepR (chainR [(EtaR (1/5)); (TopPR (3/5))] (map Some [1; 2; 4])) = [false; false; true] /\
  keepR (chainR [(TopPR (3/5)); (EtaR (1/5))] (map Some [1; 2; 4])) = [false; true; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-eta-top-p *)
Theorem commute_eta_top_p : commute_fails_R (EtaR (1/5)) (TopPR (3/5)) [1; 2; 4].
Proof. apply (refute_by_sets _ _ _ _ _ commute_eta_top_p_sets); discriminate. Qed.

(* theorem: commute-top-p-eta *)
Theorem commute_top_p_eta : commute_fails_R (TopPR (3/5)) (EtaR (1/5)) [1; 2; 4].
Proof. apply commute_fails_R_sym, commute_eta_top_p. Qed.

(* logits z = (log 1, log 2, log 4), m = 2/5, eta's epsilon = 2/5: min-p then eta keeps {2} with probabilities (1); eta then min-p keeps {1, 2} with probabilities (0.333333, 0.666667) *)
Lemma commute_eta_min_p_sets :
  keepR (chainR [(EtaR (2/5)); (MinPR (2/5))] (map Some [1; 2; 4])) = [false; true; true] /\
  keepR (chainR [(MinPR (2/5)); (EtaR (2/5))] (map Some [1; 2; 4])) = [false; false; true].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-eta-min-p *)
Theorem commute_eta_min_p : commute_fails_R (EtaR (2/5)) (MinPR (2/5)) [1; 2; 4].
Proof. apply (refute_by_sets _ _ _ _ _ commute_eta_min_p_sets); discriminate. Qed.

(* theorem: commute-min-p-eta *)
Theorem commute_min_p_eta : commute_fails_R (MinPR (2/5)) (EtaR (2/5)) [1; 2; 4].
Proof. apply commute_fails_R_sym, commute_eta_min_p. Qed.

(* logits z = (log 1, log 2, log 3), typical mass = 1/5, eta's epsilon = 3/10: typical then eta keeps {1} with probabilities (1); eta then typical keeps {2} with probabilities (1) *)
Lemma commute_eta_typical_sets :
  keepR (chainR [(EtaR (3/10)); (TypicalR (1/5))] (map Some [1; 2; 3])) = [false; false; true] /\
  keepR (chainR [(TypicalR (1/5)); (EtaR (3/10))] (map Some [1; 2; 3])) = [false; true; false].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-eta-typical *)
Theorem commute_eta_typical : commute_fails_R (EtaR (3/10)) (TypicalR (1/5)) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_eta_typical_sets); discriminate. Qed.

(* theorem: commute-typical-eta *)
Theorem commute_typical_eta : commute_fails_R (TypicalR (1/5)) (EtaR (3/10)) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_eta_typical. Qed.

(* logits z = (log 1, log 2, log 3), typical mass = 1/5, XTC threshold = 1/10 (the branch where it acts): typical then xtc keeps {1} with probabilities (1); xtc then typical keeps {0} with probabilities (1) *)
Lemma commute_typical_xtc_sets :
  keepR (chainR [(TypicalR (1/5)); (XTCR (1/10))] (map Some [1; 2; 3])) = [false; true; false] /\
  keepR (chainR [(XTCR (1/10)); (TypicalR (1/5))] (map Some [1; 2; 3])) = [true; false; false].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-typical-xtc *)
Theorem commute_typical_xtc : commute_fails_R (TypicalR (1/5)) (XTCR (1/10)) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_typical_xtc_sets); discriminate. Qed.

(* theorem: commute-xtc-typical *)
Theorem commute_xtc_typical : commute_fails_R (XTCR (1/10)) (TypicalR (1/5)) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_typical_xtc. Qed.

(* logits z = (log 1, log 2, log 3), n = 1/2, XTC threshold = 1/5 (the branch where it acts): top-n-sigma then xtc keeps {2} with probabilities (1); xtc then top-n-sigma keeps {1} with probabilities (1) *)
Lemma commute_top_n_sigma_xtc_sets :
  keepR (chainR [(TopNSigmaR (1/2)); (XTCR (1/5))] (map Some [1; 2; 3])) = [false; false; true] /\
  keepR (chainR [(XTCR (1/5)); (TopNSigmaR (1/2))] (map Some [1; 2; 3])) = [false; true; false].
Proof. split; eval_keep_R. Qed.
(* theorem: commute-top-n-sigma-xtc *)
Theorem commute_top_n_sigma_xtc : commute_fails_R (TopNSigmaR (1/2)) (XTCR (1/5)) [1; 2; 3].
Proof. apply (refute_by_sets _ _ _ _ _ commute_top_n_sigma_xtc_sets); discriminate. Qed.

(* theorem: commute-xtc-top-n-sigma *)
Theorem commute_xtc_top_n_sigma : commute_fails_R (XTCR (1/5)) (TopNSigmaR (1/2)) [1; 2; 3].
Proof. apply commute_fails_R_sym, commute_top_n_sigma_xtc. Qed.
