(* Refutations: each witness of a refuted exact theorem, re-checked by the Coq kernel.

   The rules are the spec's (spec/transforms/*.py, as proofs/rules.py and proofs/commute_exact.py
   write them for exact numbers), restated here small. A witness row has logits z_i = log w_i with
   positive rationals w_i, so every rule below reads the weights w_i = exp(z_i), as
   proofs/commute_exact.py does: softmax(z)_i = w_i / sum w; temperature T = 1/r maps w to w^r;
   a logit bias b_i = log beta_i maps w_i to w_i beta_i; exp is increasing, so ranking logits is
   ranking weights. A removed token (logit -inf) is None. Keep-sets and distributions are then
   computed in Q by the kernel (vm_compute). *)

From Coq Require Import QArith Qminmax List Bool Reals Lra.
From Interval Require Import Tactic.
Import ListNotations.

Open Scope Q_scope.

Definition row := list (option Q).

Fixpoint total (r : row) : Q :=
  match r with [] => 0 | Some w :: t => w + total t | None :: t => total t end.

Fixpoint max_w (r : row) : Q :=
  match r with [] => 0 | Some w :: t => Qmax w (max_w t) | None :: t => max_w t end.

(* the kept weights with their indices *)
Definition indexed (r : row) : list (nat * option Q) := combine (seq 0 (length r)) r.

(* number of kept tokens j with (pred j w_j) *)
Definition count (r : row) (pred : nat -> Q -> bool) : nat :=
  length (filter (fun jw => match snd jw with Some w => pred (fst jw) w | None => false end) (indexed r)).

(* kept mass of tokens j with (pred j w_j) *)
Definition mass (r : row) (pred : nat -> Q -> bool) : Q :=
  fold_right Qplus 0 (map (fun jw => match snd jw with Some w => if pred (fst jw) w then w else 0 | None => 0 end)
                          (indexed r)).

(* keep token i of weight w iff (test i w) *)
Definition filter_row (r : row) (test : nat -> Q -> bool) : row :=
  map (fun jw => match snd jw with Some w => if test (fst jw) w then Some w else None | None => None end)
      (indexed r).

Definition Qgtb (a b : Q) : bool := negb (Qle_bool a b).

(* j ranked before i: larger weight, ties to the lower index (a sort by descending probability) *)
Definition before (i : nat) (wi : Q) (j : nat) (wj : Q) : bool :=
  Qgtb wj wi || (Qeq_bool wj wi && Nat.ltb j i).

Inductive step :=
  | Temperature (r : nat)         (* T = 1/r: z / T *)
  | TopK (k : nat)                (* keep i iff fewer than k kept entries are strictly larger *)
  | TopKExact (k : nat)           (* keep exactly k, ties broken by the lower index *)
  | TopP (p : Q)                  (* keep i iff the renormalised mass ranked before i is < p *)
  | MinP (m : Q)                  (* keep i iff p_i >= m * max_j p_j *)
  | Bias (beta : list Q)          (* z + b with b_i = log beta_i *)
  | Epsilon (e : Q)               (* keep iff p_i >= e; if none, the most likely (ties kept) *)
  | XTC (t : Q).                  (* the branch that fires, ">" and ties kept: of the tokens with
                                     p_i > t, when at least two, remove all but the least likely *)

Definition apply_step (s : step) (r : row) : row :=
  match s with
  | Temperature n => map (option_map (fun w => w ^ Z.of_nat n)) r
  | TopK k => filter_row r (fun i w => Nat.ltb (count r (fun _ wj => Qgtb wj w)) k)
  | TopKExact k => filter_row r (fun i w => Nat.ltb (count r (before i w)) k)
  | TopP p => filter_row r (fun i w => negb (Qle_bool (p * total r) (mass r (before i w))))
  | MinP m => filter_row r (fun _ w => Qle_bool (m * max_w r) w)
  | Bias beta => map (fun '(w, b) => option_map (fun x => x * b) w) (combine r beta)
  | Epsilon e =>
      let kept := filter_row r (fun _ w => Qle_bool (e * total r) w) in
      if Nat.ltb (count kept (fun _ _ => true)) 1
      then filter_row r (fun _ w => Nat.ltb (count r (fun _ wj => Qgtb wj w)) 1) else kept
  | XTC t =>
      let over := fun (w : Q) => Qgtb w (t * total r) in
      if Nat.ltb (count r (fun _ w => over w)) 2 then r
      else filter_row r (fun _ w => negb (over w && Nat.ltb 0 (count r (fun _ wj => over wj && Qgtb w wj))))
  end.

Definition chain (steps : list step) (r : row) : row := fold_left (fun acc s => apply_step s acc) steps r.

Definition keep_set (r : row) : list bool := map (fun o => match o with Some _ => true | None => false end) r.
Definition dist (r : row) : list Q := map (fun o => match o with Some w => w / total r | None => 0 end) r.

(* Two chains agree when they keep the same tokens with the same probabilities (proofs/commutation.py). *)
Definition agree (r1 r2 : row) : Prop := keep_set r1 = keep_set r2 /\ Forall2 Qeq (dist r1) (dist r2).

Fixpoint list_Qeqb (a b : list Q) : bool :=
  match a, b with
  | [], [] => true
  | x :: a', y :: b' => Qeq_bool x y && list_Qeqb a' b'
  | _, _ => false
  end.

Lemma agree_check r1 r2 : agree r1 r2 -> list_Qeqb (dist r1) (dist r2) = true.
Proof.
  intros [_ H]. induction H as [|x y a b Hxy _ IH]; simpl; auto.
  rewrite IH, andb_true_r. apply Qeq_bool_iff. exact Hxy.
Qed.

(* a then b and b then a disagree at the row w *)
Definition commute_fails (a b : step) (w : list Q) : Prop :=
  ~ agree (chain [a; b] (map Some w)) (chain [b; a] (map Some w)).

Ltac refute_cell :=
  unfold commute_fails; let H := fresh "H" in intro H; apply agree_check in H; vm_compute in H; discriminate H.

(* ---- argmax-vector-shift: z = (0, 0), c = (0, -1/2) ---- *)

(* first index of the maximum (numpy / mlx / torch) *)
Fixpoint argmax_from (best : Q) (ib i : nat) (l : list Q) : nat :=
  match l with
  | [] => ib
  | x :: t => if Qgtb x best then argmax_from x i (S i) t else argmax_from best ib (S i) t
  end.
Definition first_argmax (l : list Q) : nat := match l with [] => 0%nat | x :: t => argmax_from x 0 1 t end.

(* theorem: argmax-vector-shift *)
Theorem argmax_vector_shift_witness :
  let z := [0; 0] in let c := [0; -1#2] in
  first_argmax z = 0%nat /\ first_argmax (map (fun '(a, b) => a - b) (combine z c)) = 1%nat.
Proof. vm_compute. split; reflexivity. Qed.

(* ---- temperature-order: temperature before or after top-p / min-p, T = 1/2 ---- *)

(* theorem: temperature-order *)
Theorem temperature_order_top_p : commute_fails (Temperature 2) (TopP (3#5)) [5; 3; 2].
Proof. refute_cell. Qed.

(* the keep-sets themselves: temperature first keeps {0}, top-p first keeps {0, 1} *)
Lemma temperature_order_top_p_sets :
  keep_set (chain [Temperature 2; TopP (3#5)] (map Some [5; 3; 2])) = [true; false; false] /\
  keep_set (chain [TopP (3#5); Temperature 2] (map Some [5; 3; 2])) = [true; true; false].
Proof. vm_compute. split; reflexivity. Qed.

(* theorem: temperature-order *)
Theorem temperature_order_min_p : commute_fails (Temperature 2) (MinP (3#10)) [8; 3; 1].
Proof. refute_cell. Qed.

Lemma temperature_order_min_p_sets :
  keep_set (chain [Temperature 2; MinP (3#10)] (map Some [8; 3; 1])) = [true; false; false] /\
  keep_set (chain [MinP (3#10); Temperature 2] (map Some [8; 3; 1])) = [true; true; false].
Proof. vm_compute. split; reflexivity. Qed.

(* ---- penalty-shift: z = (19/10, 3/2), theta = 13/10, token 0 penalised ---- *)

Open Scope R_scope.

(* the sign-aware repetition penalty (spec/transforms/penalties.py RepetitionPenalty; the engines'
   forms differ only at v = 0, where both branches give 0) *)
Definition pen (theta v : R) : R := if Rlt_dec 0 v then v / theta else v * theta.

(* first-index argmax of a row of two *)
Definition argmax2 (a b : R) : nat := if Rlt_dec a b then 1%nat else 0%nat.

(* theorem: penalty-shift *)
Theorem penalty_shift_witness :
  let z0 := 19/10 in let z1 := 3/2 in let theta := 13/10 in
  let c := ln (exp z0 + exp z1) in
  argmax2 (pen theta z0) z1 = 1%nat /\ argmax2 (pen theta (z0 - c)) (z1 - c) = 0%nat.
Proof.
  intros z0 z1 theta c.
  assert (Hc : 241/100 < c < 242/100) by (unfold c, z0, z1; split; interval with (i_prec 60)).
  unfold argmax2, pen, z0, z1, theta in *. split.
  - destruct (Rlt_dec 0 (19/10)); [|lra]. destruct (Rlt_dec (19/10/(13/10)) (3/2)); [reflexivity|].
    exfalso. apply n. field_simplify. lra.
  - destruct (Rlt_dec 0 (19/10 - c)); [lra|].
    destruct (Rlt_dec ((19/10 - c) * (13/10)) (3/2 - c)); [lra|reflexivity].
Qed.

Close Scope R_scope.

(* ---- refuted commute-* cells (proofs/commutation.py): a then b against b then a ---- *)
(* logits z = (log 1, log 2, log 3), T = 1/2, p = 3/5: temperature then top-p keeps {2} with probabilities (1); top-p then temperature keeps {1, 2} with probabilities (4/13, 9/13). *)
(* theorem: commute-temperature-top-p *)
Theorem commute_temperature_top_p : commute_fails (Temperature 2) (TopP (3#5)) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_temperature_top_p_sets :
  keep_set (chain [(Temperature 2); (TopP (3#5))] (map Some [1; 2; 3])) = [false; false; true] /\
  keep_set (chain [(TopP (3#5)); (Temperature 2)] (map Some [1; 2; 3])) = [false; true; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), T = 1/2, m = 1/5: temperature then min-p keeps {1, 2} with probabilities (4/13, 9/13); min-p then temperature keeps {0, 1, 2} with probabilities (1/14, 2/7, 9/14). *)
(* theorem: commute-temperature-min-p *)
Theorem commute_temperature_min_p : commute_fails (Temperature 2) (MinP (1#5)) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_temperature_min_p_sets :
  keep_set (chain [(Temperature 2); (MinP (1#5))] (map Some [1; 2; 3])) = [false; true; true] /\
  keep_set (chain [(MinP (1#5)); (Temperature 2)] (map Some [1; 2; 3])) = [true; true; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), T = 1/2, b = (log 1, log 1, log 2): temperature then bias keeps {0, 1, 2} with probabilities (1/23, 4/23, 18/23); bias then temperature keeps {0, 1, 2} with probabilities (1/41, 4/41, 36/41). *)
(* theorem: commute-temperature-bias *)
Theorem commute_temperature_bias : commute_fails (Temperature 2) (Bias [1; 1; 2]) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_temperature_bias_sets :
  keep_set (chain [(Temperature 2); (Bias [1; 1; 2])] (map Some [1; 2; 3])) = [true; true; true] /\
  keep_set (chain [(Bias [1; 1; 2]); (Temperature 2)] (map Some [1; 2; 3])) = [true; true; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 1, log 2), T = 1/2, epsilon = 1/5: temperature then epsilon keeps {2} with probabilities (1); epsilon then temperature keeps {0, 1, 2} with probabilities (0.166667, 0.166667, 0.666667) *)
(* theorem: commute-temperature-epsilon *)
Theorem commute_temperature_epsilon : commute_fails (Temperature 2) (Epsilon (1#5)) [1; 1; 2].
Proof. refute_cell. Qed.
Lemma commute_temperature_epsilon_sets :
  keep_set (chain [(Temperature 2); (Epsilon (1#5))] (map Some [1; 1; 2])) = [false; false; true] /\
  keep_set (chain [(Epsilon (1#5)); (Temperature 2)] (map Some [1; 1; 2])) = [true; true; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), T = 1/2, XTC threshold = 1/10 (the branch where it acts): temperature then xtc keeps {0, 1} with probabilities (0.2, 0.8); xtc then temperature keeps {0} with probabilities (1) *)
(* theorem: commute-temperature-xtc *)
Theorem commute_temperature_xtc : commute_fails (Temperature 2) (XTC (1#10)) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_temperature_xtc_sets :
  keep_set (chain [(Temperature 2); (XTC (1#10))] (map Some [1; 2; 3])) = [true; true; false] /\
  keep_set (chain [(XTC (1#10)); (Temperature 2)] (map Some [1; 2; 3])) = [true; false; false].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 4), K = 2, p = 3/5: top-k then top-p keeps {2} with probabilities (1); top-p then top-k keeps {1, 2} with probabilities (1/3, 2/3). *)
(* theorem: commute-top-k-top-p *)
Theorem commute_top_k_top_p : commute_fails (TopK 2) (TopP (3#5)) [1; 2; 4].
Proof. refute_cell. Qed.
Lemma commute_top_k_top_p_sets :
  keep_set (chain [(TopK 2); (TopP (3#5))] (map Some [1; 2; 4])) = [false; false; true] /\
  keep_set (chain [(TopP (3#5)); (TopK 2)] (map Some [1; 2; 4])) = [false; true; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), K = 1, b = (log 1, log 2, log 1): top-k then bias keeps {2} with probabilities (1); bias then top-k keeps {1} with probabilities (1). *)
(* theorem: commute-top-k-bias *)
Theorem commute_top_k_bias : commute_fails (TopK 1) (Bias [1; 2; 1]) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_top_k_bias_sets :
  keep_set (chain [(TopK 1); (Bias [1; 2; 1])] (map Some [1; 2; 3])) = [false; false; true] /\
  keep_set (chain [(Bias [1; 2; 1]); (TopK 1)] (map Some [1; 2; 3])) = [false; true; false].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 4), K = 2, epsilon = 3/10: top-k then epsilon keeps {1, 2} with probabilities (0.333333, 0.666667); epsilon then top-k keeps {2} with probabilities (1) *)
(* theorem: commute-top-k-epsilon *)
Theorem commute_top_k_epsilon : commute_fails (TopK 2) (Epsilon (3#10)) [1; 2; 4].
Proof. refute_cell. Qed.
Lemma commute_top_k_epsilon_sets :
  keep_set (chain [(TopK 2); (Epsilon (3#10))] (map Some [1; 2; 4])) = [false; true; true] /\
  keep_set (chain [(Epsilon (3#10)); (TopK 2)] (map Some [1; 2; 4])) = [false; false; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), K = 1, XTC threshold = 1/10 (the branch where it acts): top-k then xtc keeps {2} with probabilities (1); xtc then top-k keeps {0} with probabilities (1) *)
(* theorem: commute-top-k-xtc *)
Theorem commute_top_k_xtc : commute_fails (TopK 1) (XTC (1#10)) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_top_k_xtc_sets :
  keep_set (chain [(TopK 1); (XTC (1#10))] (map Some [1; 2; 3])) = [false; false; true] /\
  keep_set (chain [(XTC (1#10)); (TopK 1)] (map Some [1; 2; 3])) = [true; false; false].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 4), K = 2, p = 3/5: top-k-exact then top-p keeps {2} with probabilities (1); top-p then top-k-exact keeps {1, 2} with probabilities (1/3, 2/3). *)
(* theorem: commute-top-k-exact-top-p *)
Theorem commute_top_k_exact_top_p : commute_fails (TopKExact 2) (TopP (3#5)) [1; 2; 4].
Proof. refute_cell. Qed.
Lemma commute_top_k_exact_top_p_sets :
  keep_set (chain [(TopKExact 2); (TopP (3#5))] (map Some [1; 2; 4])) = [false; false; true] /\
  keep_set (chain [(TopP (3#5)); (TopKExact 2)] (map Some [1; 2; 4])) = [false; true; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), K = 1, b = (log 1, log 2, log 1): top-k-exact then bias keeps {2} with probabilities (1); bias then top-k-exact keeps {1} with probabilities (1). *)
(* theorem: commute-top-k-exact-bias *)
Theorem commute_top_k_exact_bias : commute_fails (TopKExact 1) (Bias [1; 2; 1]) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_top_k_exact_bias_sets :
  keep_set (chain [(TopKExact 1); (Bias [1; 2; 1])] (map Some [1; 2; 3])) = [false; false; true] /\
  keep_set (chain [(Bias [1; 2; 1]); (TopKExact 1)] (map Some [1; 2; 3])) = [false; true; false].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 4), K = 2, epsilon = 3/10: top-k-exact then epsilon keeps {1, 2} with probabilities (0.333333, 0.666667); epsilon then top-k-exact keeps {2} with probabilities (1) *)
(* theorem: commute-top-k-exact-epsilon *)
Theorem commute_top_k_exact_epsilon : commute_fails (TopKExact 2) (Epsilon (3#10)) [1; 2; 4].
Proof. refute_cell. Qed.
Lemma commute_top_k_exact_epsilon_sets :
  keep_set (chain [(TopKExact 2); (Epsilon (3#10))] (map Some [1; 2; 4])) = [false; true; true] /\
  keep_set (chain [(Epsilon (3#10)); (TopKExact 2)] (map Some [1; 2; 4])) = [false; false; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), K = 1, XTC threshold = 1/10 (the branch where it acts): top-k-exact then xtc keeps {2} with probabilities (1); xtc then top-k-exact keeps {0} with probabilities (1) *)
(* theorem: commute-top-k-exact-xtc *)
Theorem commute_top_k_exact_xtc : commute_fails (TopKExact 1) (XTC (1#10)) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_top_k_exact_xtc_sets :
  keep_set (chain [(TopKExact 1); (XTC (1#10))] (map Some [1; 2; 3])) = [false; false; true] /\
  keep_set (chain [(XTC (1#10)); (TopKExact 1)] (map Some [1; 2; 3])) = [true; false; false].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), T = 1/2, p = 3/5: temperature then top-p keeps {2} with probabilities (1); top-p then temperature keeps {1, 2} with probabilities (4/13, 9/13). *)
(* theorem: commute-top-p-temperature *)
Theorem commute_top_p_temperature : commute_fails (TopP (3#5)) (Temperature 2) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_top_p_temperature_sets :
  keep_set (chain [(Temperature 2); (TopP (3#5))] (map Some [1; 2; 3])) = [false; false; true] /\
  keep_set (chain [(TopP (3#5)); (Temperature 2)] (map Some [1; 2; 3])) = [false; true; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 4), K = 2, p = 3/5: top-k then top-p keeps {2} with probabilities (1); top-p then top-k keeps {1, 2} with probabilities (1/3, 2/3). *)
(* theorem: commute-top-p-top-k *)
Theorem commute_top_p_top_k : commute_fails (TopP (3#5)) (TopK 2) [1; 2; 4].
Proof. refute_cell. Qed.
Lemma commute_top_p_top_k_sets :
  keep_set (chain [(TopK 2); (TopP (3#5))] (map Some [1; 2; 4])) = [false; false; true] /\
  keep_set (chain [(TopP (3#5)); (TopK 2)] (map Some [1; 2; 4])) = [false; true; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 4), K = 2, p = 3/5: top-k-exact then top-p keeps {2} with probabilities (1); top-p then top-k-exact keeps {1, 2} with probabilities (1/3, 2/3). *)
(* theorem: commute-top-p-top-k-exact *)
Theorem commute_top_p_top_k_exact : commute_fails (TopP (3#5)) (TopKExact 2) [1; 2; 4].
Proof. refute_cell. Qed.
Lemma commute_top_p_top_k_exact_sets :
  keep_set (chain [(TopKExact 2); (TopP (3#5))] (map Some [1; 2; 4])) = [false; false; true] /\
  keep_set (chain [(TopP (3#5)); (TopKExact 2)] (map Some [1; 2; 4])) = [false; true; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 4), p = 3/5, m = 2/5: top-p then min-p keeps {1, 2} with probabilities (1/3, 2/3); min-p then top-p keeps {2} with probabilities (1). *)
(* theorem: commute-top-p-min-p *)
Theorem commute_top_p_min_p : commute_fails (TopP (3#5)) (MinP (2#5)) [1; 2; 4].
Proof. refute_cell. Qed.
Lemma commute_top_p_min_p_sets :
  keep_set (chain [(TopP (3#5)); (MinP (2#5))] (map Some [1; 2; 4])) = [false; true; true] /\
  keep_set (chain [(MinP (2#5)); (TopP (3#5))] (map Some [1; 2; 4])) = [false; false; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), p = 3/5, b = (log 1, log 1, log 2): top-p then bias keeps {1, 2} with probabilities (1/4, 3/4); bias then top-p keeps {2} with probabilities (1). *)
(* theorem: commute-top-p-bias *)
Theorem commute_top_p_bias : commute_fails (TopP (3#5)) (Bias [1; 1; 2]) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_top_p_bias_sets :
  keep_set (chain [(TopP (3#5)); (Bias [1; 1; 2])] (map Some [1; 2; 3])) = [false; true; true] /\
  keep_set (chain [(Bias [1; 1; 2]); (TopP (3#5))] (map Some [1; 2; 3])) = [false; false; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 4), p = 3/5, epsilon = 1/5: top-p then epsilon keeps {1, 2} with probabilities (0.333333, 0.666667); epsilon then top-p keeps {2} with probabilities (1) *)
(* theorem: commute-top-p-epsilon *)
Theorem commute_top_p_epsilon : commute_fails (TopP (3#5)) (Epsilon (1#5)) [1; 2; 4].
Proof. refute_cell. Qed.
Lemma commute_top_p_epsilon_sets :
  keep_set (chain [(TopP (3#5)); (Epsilon (1#5))] (map Some [1; 2; 4])) = [false; true; true] /\
  keep_set (chain [(Epsilon (1#5)); (TopP (3#5))] (map Some [1; 2; 4])) = [false; false; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), p = 1/5, XTC threshold = 1/10 (the branch where it acts): top-p then xtc keeps {2} with probabilities (1); xtc then top-p keeps {0} with probabilities (1) *)
(* theorem: commute-top-p-xtc *)
Theorem commute_top_p_xtc : commute_fails (TopP (1#5)) (XTC (1#10)) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_top_p_xtc_sets :
  keep_set (chain [(TopP (1#5)); (XTC (1#10))] (map Some [1; 2; 3])) = [false; false; true] /\
  keep_set (chain [(XTC (1#10)); (TopP (1#5))] (map Some [1; 2; 3])) = [true; false; false].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), T = 1/2, m = 1/5: temperature then min-p keeps {1, 2} with probabilities (4/13, 9/13); min-p then temperature keeps {0, 1, 2} with probabilities (1/14, 2/7, 9/14). *)
(* theorem: commute-min-p-temperature *)
Theorem commute_min_p_temperature : commute_fails (MinP (1#5)) (Temperature 2) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_min_p_temperature_sets :
  keep_set (chain [(Temperature 2); (MinP (1#5))] (map Some [1; 2; 3])) = [false; true; true] /\
  keep_set (chain [(MinP (1#5)); (Temperature 2)] (map Some [1; 2; 3])) = [true; true; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 4), p = 3/5, m = 2/5: top-p then min-p keeps {1, 2} with probabilities (1/3, 2/3); min-p then top-p keeps {2} with probabilities (1). *)
(* theorem: commute-min-p-top-p *)
Theorem commute_min_p_top_p : commute_fails (MinP (2#5)) (TopP (3#5)) [1; 2; 4].
Proof. refute_cell. Qed.
Lemma commute_min_p_top_p_sets :
  keep_set (chain [(TopP (3#5)); (MinP (2#5))] (map Some [1; 2; 4])) = [false; true; true] /\
  keep_set (chain [(MinP (2#5)); (TopP (3#5))] (map Some [1; 2; 4])) = [false; false; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), m = 1/5, b = (log 1, log 1, log 2): min-p then bias keeps {0, 1, 2} with probabilities (1/9, 2/9, 2/3); bias then min-p keeps {1, 2} with probabilities (1/4, 3/4). *)
(* theorem: commute-min-p-bias *)
Theorem commute_min_p_bias : commute_fails (MinP (1#5)) (Bias [1; 1; 2]) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_min_p_bias_sets :
  keep_set (chain [(MinP (1#5)); (Bias [1; 1; 2])] (map Some [1; 2; 3])) = [true; true; true] /\
  keep_set (chain [(Bias [1; 1; 2]); (MinP (1#5))] (map Some [1; 2; 3])) = [false; true; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 4), m = 2/5, epsilon = 3/10: min-p then epsilon keeps {1, 2} with probabilities (0.333333, 0.666667); epsilon then min-p keeps {2} with probabilities (1) *)
(* theorem: commute-min-p-epsilon *)
Theorem commute_min_p_epsilon : commute_fails (MinP (2#5)) (Epsilon (3#10)) [1; 2; 4].
Proof. refute_cell. Qed.
Lemma commute_min_p_epsilon_sets :
  keep_set (chain [(MinP (2#5)); (Epsilon (3#10))] (map Some [1; 2; 4])) = [false; true; true] /\
  keep_set (chain [(Epsilon (3#10)); (MinP (2#5))] (map Some [1; 2; 4])) = [false; false; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), m = 2/5, XTC threshold = 1/10 (the branch where it acts): min-p then xtc keeps {1} with probabilities (1); xtc then min-p keeps {0} with probabilities (1) *)
(* theorem: commute-min-p-xtc *)
Theorem commute_min_p_xtc : commute_fails (MinP (2#5)) (XTC (1#10)) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_min_p_xtc_sets :
  keep_set (chain [(MinP (2#5)); (XTC (1#10))] (map Some [1; 2; 3])) = [false; true; false] /\
  keep_set (chain [(XTC (1#10)); (MinP (2#5))] (map Some [1; 2; 3])) = [true; false; false].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), T = 1/2, b = (log 1, log 1, log 2): temperature then bias keeps {0, 1, 2} with probabilities (1/23, 4/23, 18/23); bias then temperature keeps {0, 1, 2} with probabilities (1/41, 4/41, 36/41). *)
(* theorem: commute-bias-temperature *)
Theorem commute_bias_temperature : commute_fails (Bias [1; 1; 2]) (Temperature 2) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_bias_temperature_sets :
  keep_set (chain [(Temperature 2); (Bias [1; 1; 2])] (map Some [1; 2; 3])) = [true; true; true] /\
  keep_set (chain [(Bias [1; 1; 2]); (Temperature 2)] (map Some [1; 2; 3])) = [true; true; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), K = 1, b = (log 1, log 2, log 1): top-k then bias keeps {2} with probabilities (1); bias then top-k keeps {1} with probabilities (1). *)
(* theorem: commute-bias-top-k *)
Theorem commute_bias_top_k : commute_fails (Bias [1; 2; 1]) (TopK 1) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_bias_top_k_sets :
  keep_set (chain [(TopK 1); (Bias [1; 2; 1])] (map Some [1; 2; 3])) = [false; false; true] /\
  keep_set (chain [(Bias [1; 2; 1]); (TopK 1)] (map Some [1; 2; 3])) = [false; true; false].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), K = 1, b = (log 1, log 2, log 1): top-k-exact then bias keeps {2} with probabilities (1); bias then top-k-exact keeps {1} with probabilities (1). *)
(* theorem: commute-bias-top-k-exact *)
Theorem commute_bias_top_k_exact : commute_fails (Bias [1; 2; 1]) (TopKExact 1) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_bias_top_k_exact_sets :
  keep_set (chain [(TopKExact 1); (Bias [1; 2; 1])] (map Some [1; 2; 3])) = [false; false; true] /\
  keep_set (chain [(Bias [1; 2; 1]); (TopKExact 1)] (map Some [1; 2; 3])) = [false; true; false].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), p = 3/5, b = (log 1, log 1, log 2): top-p then bias keeps {1, 2} with probabilities (1/4, 3/4); bias then top-p keeps {2} with probabilities (1). *)
(* theorem: commute-bias-top-p *)
Theorem commute_bias_top_p : commute_fails (Bias [1; 1; 2]) (TopP (3#5)) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_bias_top_p_sets :
  keep_set (chain [(TopP (3#5)); (Bias [1; 1; 2])] (map Some [1; 2; 3])) = [false; true; true] /\
  keep_set (chain [(Bias [1; 1; 2]); (TopP (3#5))] (map Some [1; 2; 3])) = [false; false; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), m = 1/5, b = (log 1, log 1, log 2): min-p then bias keeps {0, 1, 2} with probabilities (1/9, 2/9, 2/3); bias then min-p keeps {1, 2} with probabilities (1/4, 3/4). *)
(* theorem: commute-bias-min-p *)
Theorem commute_bias_min_p : commute_fails (Bias [1; 1; 2]) (MinP (1#5)) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_bias_min_p_sets :
  keep_set (chain [(MinP (1#5)); (Bias [1; 1; 2])] (map Some [1; 2; 3])) = [true; true; true] /\
  keep_set (chain [(Bias [1; 1; 2]); (MinP (1#5))] (map Some [1; 2; 3])) = [false; true; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 1, log 2), b = (log 1, log 1, log 2), epsilon = 1/5: bias then epsilon keeps {2} with probabilities (1); epsilon then bias keeps {0, 1, 2} with probabilities (0.166667, 0.166667, 0.666667) *)
(* theorem: commute-bias-epsilon *)
Theorem commute_bias_epsilon : commute_fails (Bias [1; 1; 2]) (Epsilon (1#5)) [1; 1; 2].
Proof. refute_cell. Qed.
Lemma commute_bias_epsilon_sets :
  keep_set (chain [(Bias [1; 1; 2]); (Epsilon (1#5))] (map Some [1; 1; 2])) = [false; false; true] /\
  keep_set (chain [(Epsilon (1#5)); (Bias [1; 1; 2])] (map Some [1; 1; 2])) = [true; true; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 1, log 2), b = (log 1, log 3, log 1), XTC threshold = 3/10 (the branch where it acts): bias then xtc keeps {0, 2} with probabilities (0.333333, 0.666667); xtc then bias keeps {0, 1, 2} with probabilities (0.166667, 0.5, 0.333333) *)
(* theorem: commute-bias-xtc *)
Theorem commute_bias_xtc : commute_fails (Bias [1; 3; 1]) (XTC (3#10)) [1; 1; 2].
Proof. refute_cell. Qed.
Lemma commute_bias_xtc_sets :
  keep_set (chain [(Bias [1; 3; 1]); (XTC (3#10))] (map Some [1; 1; 2])) = [true; false; true] /\
  keep_set (chain [(XTC (3#10)); (Bias [1; 3; 1])] (map Some [1; 1; 2])) = [true; true; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 1, log 2), T = 1/2, epsilon = 1/5: temperature then epsilon keeps {2} with probabilities (1); epsilon then temperature keeps {0, 1, 2} with probabilities (0.166667, 0.166667, 0.666667) *)
(* theorem: commute-epsilon-temperature *)
Theorem commute_epsilon_temperature : commute_fails (Epsilon (1#5)) (Temperature 2) [1; 1; 2].
Proof. refute_cell. Qed.
Lemma commute_epsilon_temperature_sets :
  keep_set (chain [(Temperature 2); (Epsilon (1#5))] (map Some [1; 1; 2])) = [false; false; true] /\
  keep_set (chain [(Epsilon (1#5)); (Temperature 2)] (map Some [1; 1; 2])) = [true; true; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 4), K = 2, epsilon = 3/10: top-k then epsilon keeps {1, 2} with probabilities (0.333333, 0.666667); epsilon then top-k keeps {2} with probabilities (1) *)
(* theorem: commute-epsilon-top-k *)
Theorem commute_epsilon_top_k : commute_fails (Epsilon (3#10)) (TopK 2) [1; 2; 4].
Proof. refute_cell. Qed.
Lemma commute_epsilon_top_k_sets :
  keep_set (chain [(TopK 2); (Epsilon (3#10))] (map Some [1; 2; 4])) = [false; true; true] /\
  keep_set (chain [(Epsilon (3#10)); (TopK 2)] (map Some [1; 2; 4])) = [false; false; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 4), K = 2, epsilon = 3/10: top-k-exact then epsilon keeps {1, 2} with probabilities (0.333333, 0.666667); epsilon then top-k-exact keeps {2} with probabilities (1) *)
(* theorem: commute-epsilon-top-k-exact *)
Theorem commute_epsilon_top_k_exact : commute_fails (Epsilon (3#10)) (TopKExact 2) [1; 2; 4].
Proof. refute_cell. Qed.
Lemma commute_epsilon_top_k_exact_sets :
  keep_set (chain [(TopKExact 2); (Epsilon (3#10))] (map Some [1; 2; 4])) = [false; true; true] /\
  keep_set (chain [(Epsilon (3#10)); (TopKExact 2)] (map Some [1; 2; 4])) = [false; false; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 4), p = 3/5, epsilon = 1/5: top-p then epsilon keeps {1, 2} with probabilities (0.333333, 0.666667); epsilon then top-p keeps {2} with probabilities (1) *)
(* theorem: commute-epsilon-top-p *)
Theorem commute_epsilon_top_p : commute_fails (Epsilon (1#5)) (TopP (3#5)) [1; 2; 4].
Proof. refute_cell. Qed.
Lemma commute_epsilon_top_p_sets :
  keep_set (chain [(TopP (3#5)); (Epsilon (1#5))] (map Some [1; 2; 4])) = [false; true; true] /\
  keep_set (chain [(Epsilon (1#5)); (TopP (3#5))] (map Some [1; 2; 4])) = [false; false; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 4), m = 2/5, epsilon = 3/10: min-p then epsilon keeps {1, 2} with probabilities (0.333333, 0.666667); epsilon then min-p keeps {2} with probabilities (1) *)
(* theorem: commute-epsilon-min-p *)
Theorem commute_epsilon_min_p : commute_fails (Epsilon (3#10)) (MinP (2#5)) [1; 2; 4].
Proof. refute_cell. Qed.
Lemma commute_epsilon_min_p_sets :
  keep_set (chain [(MinP (2#5)); (Epsilon (3#10))] (map Some [1; 2; 4])) = [false; true; true] /\
  keep_set (chain [(Epsilon (3#10)); (MinP (2#5))] (map Some [1; 2; 4])) = [false; false; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 1, log 2), b = (log 1, log 1, log 2), epsilon = 1/5: bias then epsilon keeps {2} with probabilities (1); epsilon then bias keeps {0, 1, 2} with probabilities (0.166667, 0.166667, 0.666667) *)
(* theorem: commute-epsilon-bias *)
Theorem commute_epsilon_bias : commute_fails (Epsilon (1#5)) (Bias [1; 1; 2]) [1; 1; 2].
Proof. refute_cell. Qed.
Lemma commute_epsilon_bias_sets :
  keep_set (chain [(Bias [1; 1; 2]); (Epsilon (1#5))] (map Some [1; 1; 2])) = [false; false; true] /\
  keep_set (chain [(Epsilon (1#5)); (Bias [1; 1; 2])] (map Some [1; 1; 2])) = [true; true; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), epsilon = 1/5, XTC threshold = 1/10 (the branch where it acts): epsilon then xtc keeps {1} with probabilities (1); xtc then epsilon keeps {0} with probabilities (1) *)
(* theorem: commute-epsilon-xtc *)
Theorem commute_epsilon_xtc : commute_fails (Epsilon (1#5)) (XTC (1#10)) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_epsilon_xtc_sets :
  keep_set (chain [(Epsilon (1#5)); (XTC (1#10))] (map Some [1; 2; 3])) = [false; true; false] /\
  keep_set (chain [(XTC (1#10)); (Epsilon (1#5))] (map Some [1; 2; 3])) = [true; false; false].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), T = 1/2, XTC threshold = 1/10 (the branch where it acts): temperature then xtc keeps {0, 1} with probabilities (0.2, 0.8); xtc then temperature keeps {0} with probabilities (1) *)
(* theorem: commute-xtc-temperature *)
Theorem commute_xtc_temperature : commute_fails (XTC (1#10)) (Temperature 2) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_xtc_temperature_sets :
  keep_set (chain [(Temperature 2); (XTC (1#10))] (map Some [1; 2; 3])) = [true; true; false] /\
  keep_set (chain [(XTC (1#10)); (Temperature 2)] (map Some [1; 2; 3])) = [true; false; false].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), K = 1, XTC threshold = 1/10 (the branch where it acts): top-k then xtc keeps {2} with probabilities (1); xtc then top-k keeps {0} with probabilities (1) *)
(* theorem: commute-xtc-top-k *)
Theorem commute_xtc_top_k : commute_fails (XTC (1#10)) (TopK 1) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_xtc_top_k_sets :
  keep_set (chain [(TopK 1); (XTC (1#10))] (map Some [1; 2; 3])) = [false; false; true] /\
  keep_set (chain [(XTC (1#10)); (TopK 1)] (map Some [1; 2; 3])) = [true; false; false].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), K = 1, XTC threshold = 1/10 (the branch where it acts): top-k-exact then xtc keeps {2} with probabilities (1); xtc then top-k-exact keeps {0} with probabilities (1) *)
(* theorem: commute-xtc-top-k-exact *)
Theorem commute_xtc_top_k_exact : commute_fails (XTC (1#10)) (TopKExact 1) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_xtc_top_k_exact_sets :
  keep_set (chain [(TopKExact 1); (XTC (1#10))] (map Some [1; 2; 3])) = [false; false; true] /\
  keep_set (chain [(XTC (1#10)); (TopKExact 1)] (map Some [1; 2; 3])) = [true; false; false].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), p = 1/5, XTC threshold = 1/10 (the branch where it acts): top-p then xtc keeps {2} with probabilities (1); xtc then top-p keeps {0} with probabilities (1) *)
(* theorem: commute-xtc-top-p *)
Theorem commute_xtc_top_p : commute_fails (XTC (1#10)) (TopP (1#5)) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_xtc_top_p_sets :
  keep_set (chain [(TopP (1#5)); (XTC (1#10))] (map Some [1; 2; 3])) = [false; false; true] /\
  keep_set (chain [(XTC (1#10)); (TopP (1#5))] (map Some [1; 2; 3])) = [true; false; false].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), m = 2/5, XTC threshold = 1/10 (the branch where it acts): min-p then xtc keeps {1} with probabilities (1); xtc then min-p keeps {0} with probabilities (1) *)
(* theorem: commute-xtc-min-p *)
Theorem commute_xtc_min_p : commute_fails (XTC (1#10)) (MinP (2#5)) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_xtc_min_p_sets :
  keep_set (chain [(MinP (2#5)); (XTC (1#10))] (map Some [1; 2; 3])) = [false; true; false] /\
  keep_set (chain [(XTC (1#10)); (MinP (2#5))] (map Some [1; 2; 3])) = [true; false; false].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 1, log 2), b = (log 1, log 3, log 1), XTC threshold = 3/10 (the branch where it acts): bias then xtc keeps {0, 2} with probabilities (0.333333, 0.666667); xtc then bias keeps {0, 1, 2} with probabilities (0.166667, 0.5, 0.333333) *)
(* theorem: commute-xtc-bias *)
Theorem commute_xtc_bias : commute_fails (XTC (3#10)) (Bias [1; 3; 1]) [1; 1; 2].
Proof. refute_cell. Qed.
Lemma commute_xtc_bias_sets :
  keep_set (chain [(Bias [1; 3; 1]); (XTC (3#10))] (map Some [1; 1; 2])) = [true; false; true] /\
  keep_set (chain [(XTC (3#10)); (Bias [1; 3; 1])] (map Some [1; 1; 2])) = [true; true; true].
Proof. vm_compute. repeat split. Qed.

(* logits z = (log 1, log 2, log 3), epsilon = 1/5, XTC threshold = 1/10 (the branch where it acts): epsilon then xtc keeps {1} with probabilities (1); xtc then epsilon keeps {0} with probabilities (1) *)
(* theorem: commute-xtc-epsilon *)
Theorem commute_xtc_epsilon : commute_fails (XTC (1#10)) (Epsilon (1#5)) [1; 2; 3].
Proof. refute_cell. Qed.
Lemma commute_xtc_epsilon_sets :
  keep_set (chain [(Epsilon (1#5)); (XTC (1#10))] (map Some [1; 2; 3])) = [false; true; false] /\
  keep_set (chain [(XTC (1#10)); (Epsilon (1#5))] (map Some [1; 2; 3])) = [true; false; false].
Proof. vm_compute. repeat split. Qed.

(* ---- refuted cells whose rules need ln, exp or sqrt: the same rules over real weights ---- *)

Open Scope R_scope.

(* a row of weights w_i = exp(z_i) > 0 in R; None is a removed token *)
Definition rowR := list (option R).

Definition Rltb (a b : R) : bool := if Rlt_dec a b then true else false.
Definition Rleb (a b : R) : bool := if Rle_dec a b then true else false.
Definition Reqb (a b : R) : bool := if Req_EM_T a b then true else false.

Definition indexedR (r : rowR) : list (nat * option R) := combine (seq 0 (length r)) r.
Definition sumR (f : nat -> R -> R) (r : rowR) : R :=
  fold_right Rplus 0 (map (fun jw => match snd jw with Some w => f (fst jw) w | None => 0 end) (indexedR r)).
Definition countR (pred : nat -> R -> bool) (r : rowR) : nat :=
  length (filter (fun jw => match snd jw with Some w => pred (fst jw) w | None => false end) (indexedR r)).
Definition filterR (test : nat -> R -> bool) (r : rowR) : rowR :=
  map (fun jw => match snd jw with Some w => if test (fst jw) w then Some w else None | None => None end)
      (indexedR r).
Definition alive (r : rowR) : R := INR (countR (fun _ _ => true) r).

Definition totalR (r : rowR) : R := sumR (fun _ w => w) r.
(* entropy of softmax over the kept tokens: H = sum p_i (log S - log w_i) *)
Definition entropyR (r : rowR) : R := sumR (fun _ w => w / totalR r * (ln (totalR r) - ln w)) r.
(* typicality |-log p_i - H| *)
Definition scoreR (r : rowR) (w : R) : R := Rabs (ln (totalR r) - ln w - entropyR r).
(* logits of the kept tokens: mean and population standard deviation *)
Definition meanR (r : rowR) : R := sumR (fun _ w => ln w) r / alive r.
Definition sigmaR (r : rowR) : R := sqrt (sumR (fun _ w => (ln w - meanR r) * (ln w - meanR r)) r / alive r).
Definition maxR (r : rowR) : R := fold_right (fun o m => match o with Some w => Rmax w m | None => m end) 0 r.

(* keep_cutoff of proofs/rules.py: p_i >= threshold; if none pass, the most likely (ties kept) *)
Definition cutoffR (thr : R) (r : rowR) : rowR :=
  let kept := filterR (fun _ w => Rleb (thr * totalR r) w) r in
  if Nat.ltb (countR (fun _ _ => true) kept) 1
  then filterR (fun _ w => Nat.ltb (countR (fun _ wj => Rltb w wj) r) 1) r else kept.

Inductive stepR :=
  | TemperatureR (n : nat)            (* T = 1/n *)
  | TopKR (k : nat)
  | TopKExactR (k : nat)
  | TopPR (p : R)
  | MinPR (m : R)
  | BiasR (beta : list R)
  | RepetitionR (theta : R) (seen : list bool)
      (* seen token: z / theta if z > 0, else z * theta (z = log w) *)
  | TypicalR (mass : R)               (* min_tokens_to_keep = 1, ties kept whole *)
  | EpsilonR (e : R)
  | EtaR (e : R)                      (* threshold min(e, sqrt(e) exp(-H)) *)
  | TopNSigmaR (n : R)                (* keep z_i >= max z - n sigma(z) *)
  | XTCR (t : R).

Definition beforeR (i : nat) (wi : R) (j : nat) (wj : R) : bool := Rltb wi wj || (Reqb wj wi && Nat.ltb j i).

Definition applyR (s : stepR) (r : rowR) : rowR :=
  match s with
  | TemperatureR n => map (option_map (fun w => w ^ n)) r
  | TopKR k => filterR (fun _ w => Nat.ltb (countR (fun _ wj => Rltb w wj) r) k) r
  | TopKExactR k => filterR (fun i w => Nat.ltb (countR (beforeR i w) r) k) r
  | TopPR p => filterR (fun i w => Rltb (sumR (fun j wj => if beforeR i w j wj then wj else 0) r) (p * totalR r)) r
  | MinPR m => filterR (fun _ w => Rleb (m * maxR r) w) r
  | BiasR beta => map (fun '(w, b) => option_map (fun x => x * b) w) (combine r beta)
  | RepetitionR theta seen =>
      map (fun ws : option R * bool => let (w, s) := ws in
             if s then option_map (fun x => if Rltb 1 x then exp (ln x / theta) else exp (ln x * theta)) w else w)
          (combine r seen)
  | TypicalR m =>
      filterR (fun i w =>
        Rltb (sumR (fun j wj => if Rltb (scoreR r wj) (scoreR r w) then wj else 0) r) (m * totalR r)
        || Nat.ltb (countR (fun j wj => Rltb (scoreR r wj) (scoreR r w)
                                        || (Reqb (scoreR r wj) (scoreR r w) && Nat.ltb j i)) r) 1) r
  | EpsilonR e => cutoffR e r
  | EtaR e => cutoffR (Rmin e (sqrt e * exp (- entropyR r))) r
  | TopNSigmaR n => filterR (fun _ w => Rleb (ln (maxR r) - n * sigmaR r) (ln w)) r
  | XTCR t =>
      let over := fun w => Rltb (t * totalR r) w in
      if Nat.ltb (countR (fun _ w => over w) r) 2 then r
      else filterR (fun _ w => negb (over w && Nat.ltb 0 (countR (fun _ wj => over wj && Rltb wj w) r))) r
  end.

Definition chainR (steps : list stepR) (r : rowR) : rowR := fold_left (fun acc s => applyR s acc) steps r.
Definition keepR (r : rowR) : list bool := map (fun o => match o with Some _ => true | None => false end) r.
Definition distR (r : rowR) : list R := map (fun o => match o with Some w => w / totalR r | None => 0 end) r.
Definition agreeR (r1 r2 : rowR) : Prop := keepR r1 = keepR r2 /\ distR r1 = distR r2.
Definition commute_fails_R (a b : stepR) (w : list R) : Prop :=
  ~ agreeR (chainR [a; b] (map Some w)) (chainR [b; a] (map Some w)).

Lemma commute_fails_R_sym a b w : commute_fails_R a b w -> commute_fails_R b a w.
Proof. unfold commute_fails_R, agreeR. intros H [H1 H2]. apply H. split; symmetry; assumption. Qed.

Lemma Rltb_t a b : a < b -> Rltb a b = true. Proof. unfold Rltb. destruct (Rlt_dec a b); [reflexivity|contradiction]. Qed.
Lemma Rltb_f a b : b <= a -> Rltb a b = false. Proof. unfold Rltb. destruct (Rlt_dec a b); [lra|reflexivity]. Qed.
Lemma Rleb_t a b : a <= b -> Rleb a b = true. Proof. unfold Rleb. destruct (Rle_dec a b); [reflexivity|contradiction]. Qed.
Lemma Rleb_f a b : b < a -> Rleb a b = false. Proof. unfold Rleb. destruct (Rle_dec a b); [lra|reflexivity]. Qed.
Lemma Reqb_f a b : a < b \/ b < a -> Reqb a b = false. Proof. unfold Reqb. destruct (Req_EM_T a b); [lra|reflexivity]. Qed.
Lemma Reqb_t a : Reqb a a = true. Proof. unfold Reqb. destruct (Req_EM_T a a); [reflexivity|contradiction]. Qed.
Lemma Rltb_irr a : Rltb a a = false. Proof. apply Rltb_f. lra. Qed.
Lemma Rleb_refl a : Rleb a a = true. Proof. apply Rleb_t. lra. Qed.
Lemma Rmin_l a b : a <= b -> Rmin a b = a. Proof. apply Rmin_left. Qed.
Lemma Rmin_r a b : b < a -> Rmin a b = b. Proof. intros; apply Rmin_right; lra. Qed.
Lemma Rmax_l a b : b <= a -> Rmax a b = a. Proof. apply Rmax_left. Qed.
Lemma Rmax_r a b : a < b -> Rmax a b = b. Proof. intros; apply Rmax_right; lra. Qed.

Ltac unfold_rowsR :=
  cbv beta iota zeta delta [applyR cutoffR filterR countR sumR indexedR totalR entropyR scoreR meanR sigmaR
    maxR alive beforeR fold_right map filter combine seq length snd fst option_map Nat.ltb Nat.leb orb andb negb].

Ltac no_test t := lazymatch t with
  | context [Rltb _ _] => fail | context [Rleb _ _] => fail | context [Reqb _ _] => fail
  | context [Rmin _ _] => fail | context [Rmax _ _] => fail | _ => idtac end.

Ltac ival := interval with (i_prec 60).

(* decide one comparison between closed real terms by interval arithmetic (identical terms without it),
   rewriting every occurrence *)
Ltac decide_R :=
  match goal with
  | |- context [Rltb ?a ?a] => rewrite (Rltb_irr a)
  | |- context [Rleb ?a ?a] => rewrite (Rleb_refl a)
  | |- context [Reqb ?a ?a] => rewrite (Reqb_t a)
  | |- context [Rltb ?a ?b] => no_test a; no_test b;
      first [ rewrite (Rltb_t a b) by ival | rewrite (Rltb_f a b) by ival ]
  | |- context [Rleb ?a ?b] => no_test a; no_test b;
      first [ rewrite (Rleb_t a b) by ival | rewrite (Rleb_f a b) by ival ]
  | |- context [Reqb ?a ?b] => no_test a; no_test b;
      rewrite (Reqb_f a b) by (first [left; ival | right; ival])
  | |- context [Rmin ?a ?b] => no_test a; no_test b;
      first [ rewrite (Rmin_l a b) by ival | rewrite (Rmin_r a b) by ival ]
  | |- context [Rmax ?a ?b] => no_test a; no_test b;
      first [ rewrite (Rmax_l a b) by ival | rewrite (Rmax_r a b) by ival ]
  end.

Ltac step_onceR :=
  match goal with |- context [applyR ?s ?w] =>
    lazymatch w with context [applyR _ _] => fail | _ => idtac end;
    let r := fresh "r" in evar (r : rowR);
    let E := fresh "E" in
    assert (E : applyR s w = r) by (unfold r; unfold_rowsR; repeat (decide_R; cbv beta iota); reflexivity);
    rewrite E; unfold r; clear E r
  end.

Ltac eval_chainsR := unfold chainR; cbv beta iota delta [fold_left map]; repeat step_onceR.

Ltac eval_keep_R := eval_chainsR; cbv beta iota delta [keepR map]; reflexivity.

Lemma refute_by_sets a b w s1 s2 :
  keepR (chainR [a; b] (map Some w)) = s1 /\ keepR (chainR [b; a] (map Some w)) = s2 -> s1 <> s2 ->
  commute_fails_R a b w.
Proof. intros [E1 E2] D [H _]. apply D. rewrite <- E1, <- E2. exact H. Qed.

(* same keep-sets: some probability differs *)
Ltac refute_dist_R :=
  unfold commute_fails_R, agreeR; eval_chainsR;
  cbv beta iota delta [distR map totalR sumR indexedR fold_right combine seq length snd fst];
  let H := fresh in intros [_ H]; injection H; clear H; intros;
  repeat match goal with h : ?a = ?b |- False =>
    first [ let l := fresh in assert (l : a < b) by ival; rewrite h in l; exact (Rlt_irrefl _ l)
          | let l := fresh in assert (l : b < a) by ival; rewrite h in l; exact (Rlt_irrefl _ l)
          | clear h ] end.

Close Scope R_scope.
