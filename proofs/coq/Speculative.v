(** Speculative decoding (proofs/speculative.py), for vocabularies of any size n. *)

From Coq Require Import Reals Lra Lia List Arith.
Import ListNotations.
Open Scope R_scope.

Definition rsum (l : list R) : R := fold_right Rplus 0 l.

(** Accept a draft x ~ q with probability min(1, p(x)/q(x)) (0 when q(x) = 0: never proposed). *)
Definition accept (a b : R) : R := if Rlt_dec 0 b then Rmin 1 (a / b) else 0.
Definition residual (a b : R) : R := Rmax 0 (a - b).

(** The verifier's output distribution: accepted, or rejected and drawn from max(0, p - q)
    normalised (no resampling when that mass is 0). *)
Definition verify (p q : list R) : list R :=
  let pq := combine p q in
  let rejected := 1 - rsum (map (fun '(a, b) => b * accept a b) pq) in
  let mass := rsum (map (fun '(a, b) => residual a b) pq) in
  map (fun '(a, b) => b * accept a b + (if Rlt_dec 0 mass then rejected * residual a b / mass else 0)) pq.

Lemma accepted_min a b : 0 <= a -> 0 <= b -> b * accept a b = Rmin a b.
Proof.
  intros Ha Hb; unfold accept; destruct Rlt_dec as [h|h].
  - assert (D : a / b * b = a) by (field; lra).
    destruct (Rle_dec a b) as [l|l].
    + assert (a / b <= 1) by (apply (Rmult_le_reg_r b); lra).
      rewrite Rmin_right, Rmin_left by lra; lra.
    + assert (1 <= a / b) by (apply (Rmult_le_reg_r b); lra).
      rewrite Rmin_left, Rmin_right by lra; lra.
  - assert (b = 0) by lra; subst; unfold Rmin; destruct (Rle_dec a 0); lra.
Qed.

Lemma min_plus_residual a b : Rmin a b + residual a b = a.
Proof. unfold Rmin, residual, Rmax; destruct Rle_dec, Rle_dec; lra. Qed.

Lemma residual_nonneg a b : 0 <= residual a b.
Proof. unfold residual, Rmax; destruct Rle_dec; lra. Qed.

Definition nonneg (l : list R) := forall x, In x l -> 0 <= x.

Lemma sums pq : nonneg (map fst pq) -> nonneg (map snd pq) ->
  rsum (map (fun '(a, b) => b * accept a b) pq) + rsum (map (fun '(a, b) => residual a b) pq)
  = rsum (map fst pq).
Proof.
  induction pq as [|[a b] pq IH]; intros Hp Hq; simpl; [lra|].
  rewrite <- IH; [| intros x Hx; apply Hp; right; auto | intros x Hx; apply Hq; right; auto].
  rewrite accepted_min; [| apply Hp; left; auto | apply Hq; left; auto].
  pose proof (min_plus_residual a b); lra.
Qed.

Lemma rsum_zero pq : rsum (map (fun '(a, b) => residual a b) pq) = 0 ->
  forall a b, In (a, b) pq -> residual a b = 0.
Proof.
  induction pq as [|[a' b'] pq IH]; simpl; [tauto|]; intros E a b [H|H].
  - inversion H; subst.
    assert (0 <= rsum (map (fun '(a, b) => residual a b) pq)).
    { clear; induction pq as [|[x y] pq IH]; simpl; [lra|]; pose proof (residual_nonneg x y); lra. }
    pose proof (residual_nonneg a b); lra.
  - apply IH; auto.
    assert (0 <= rsum (map (fun '(a, b) => residual a b) pq)).
    { clear; induction pq as [|[x y] pq IH]; simpl; [lra|]; pose proof (residual_nonneg x y); lra. }
    pose proof (residual_nonneg a' b'); lra.
Qed.

Lemma fst_combine (p q : list R) : length p = length q -> map fst (combine p q) = p.
Proof. revert q; induction p; intros [|b q] E; simpl in *; try discriminate; auto; rewrite IHp; auto. Qed.

Lemma snd_combine (p q : list R) : length p = length q -> map snd (combine p q) = q.
Proof. revert q; induction p; intros [|b q] E; simpl in *; try discriminate; auto; rewrite IHp; auto. Qed.

(* theorem: speculative-rejection *)
Theorem speculative_rejection : forall p q : list R,
  length p = length q -> nonneg p -> nonneg q -> rsum p = 1 -> verify p q = p.
Proof.
  intros p q E Hp Hq S; unfold verify.
  set (pq := combine p q).
  assert (Hp' : nonneg (map fst pq)) by (unfold pq; rewrite fst_combine; auto).
  assert (Hq' : nonneg (map snd pq)) by (unfold pq; rewrite snd_combine; auto).
  pose proof (sums pq Hp' Hq') as T; unfold pq in T at 3; rewrite fst_combine, S in T by auto.
  set (mass := rsum (map (fun '(a, b) => residual a b) pq)) in *.
  set (acc := rsum (map (fun '(a, b) => b * accept a b) pq)) in *.
  transitivity (map fst pq); [| unfold pq; apply fst_combine; auto]; apply map_ext_in; intros [a b] Hab.
  assert (Ha : 0 <= a) by (apply Hp'; change a with (fst (a, b)); apply in_map; auto).
  assert (Hb : 0 <= b) by (apply Hq'; change b with (snd (a, b)); apply in_map; auto).
  rewrite accepted_min by auto; pose proof (min_plus_residual a b); simpl.
  destruct Rlt_dec as [h|h].
  - replace (1 - acc) with mass by lra; field_simplify; [lra | lra].
  - assert (mass = 0) by (pose proof (residual_nonneg a b);
      assert (0 <= mass) by (unfold mass; clear; induction pq as [|[x y] pq IH]; simpl; [lra|];
                              pose proof (residual_nonneg x y); lra); lra).
    rewrite (rsum_zero pq H0 a b Hab) in *; lra.
Qed.

(** mlx-lm's token matching: the target samples every verified position and the drafts are kept
    while they equal its samples, so the emitted pair is the target's own pair of independent
    draws: P(a, b) = p1(a) p2(b | a), for any distributions over any number of tokens and any draft. *)
Definition emitted (p1 : nat -> R) (p2 : nat -> nat -> R) (draft a b : nat) : R :=
  if Nat.eq_dec a draft then p1 a * p2 draft b else p1 a * p2 a b.

(* theorem: speculative-token-match *)
Theorem speculative_token_match : forall (p1 : nat -> R) (p2 : nat -> nat -> R) (draft a b : nat),
  emitted p1 p2 draft a b = p1 a * p2 a b.
Proof. intros; unfold emitted; destruct Nat.eq_dec; subst; reflexivity. Qed.

(** The refutations' witnesses (proofs/speculative.py). A verifier with per-token acceptance
    probabilities `acc`, rejected drafts resampled from max(0, p - q) normalised: `verify` is this with
    acc = min(1, p/q); `speculative-logits` takes acc = min(1, exp(z_p - z_q)) from raw logits. *)
Definition verify_with (acc p q : list R) : list R :=
  let pq := combine p q in
  let rejected := 1 - rsum (map (fun '(b, c) => b * c) (combine q acc)) in
  let mass := rsum (map (fun '(a, b) => residual a b) pq) in
  map (fun '((a, b), c) => b * c + (if Rlt_dec 0 mass then rejected * residual a b / mass else 0)) (combine pq acc).

Lemma verify_with_two (a1 a2 b1 b2 c1 c2 : R) : verify_with [c1; c2] [a1; a2] [b1; b2] =
  let rejected := 1 - (b1 * c1 + (b2 * c2 + 0)) in
  let mass := residual a1 b1 + (residual a2 b2 + 0) in
  [b1 * c1 + (if Rlt_dec 0 mass then rejected * residual a1 b1 / mass else 0);
   b2 * c2 + (if Rlt_dec 0 mass then rejected * residual a2 b2 / mass else 0)].
Proof. reflexivity. Qed.

(* theorem: speculative-logits *)
Theorem speculative_logits_witness :
  let p := [3 / 4; 1 / 4] in let q := [1 / 2; 1 / 2] in
  let zp := [ln 3; ln 1] in let zq := [ln 1; ln 1] in
  (* p and q are the softmax of the logits *)
  (forall i, (i < 2)%nat -> nth i p 0 = exp (nth i zp 0) / (exp (ln 3) + exp (ln 1))) /\
  (forall i, (i < 2)%nat -> nth i q 0 = exp (nth i zq 0) / (exp (ln 1) + exp (ln 1))) /\
  (* the ratio from raw logits gives q, the normalised ratio gives p *)
  verify_with (map (fun '(a, b) => Rmin 1 (exp (a - b))) (combine zp zq)) p q = q /\ q <> p /\
  verify_with (map (fun '(a, b) => Rmin 1 (a / b)) (combine p q)) p q = p.
Proof.
  cbv zeta; assert (E3 : exp (ln 3) = 3) by (apply exp_ln; lra).
  rewrite ln_1, exp_0, E3.
  split; [intros [|[|i]] H; simpl; try lia; rewrite ?E3, ?exp_0; field |].
  split; [intros [|[|i]] H; simpl; try lia; rewrite ?E3, ?exp_0; field |].
  simpl map; rewrite !Rminus_0_r, E3, exp_0, !verify_with_two; cbv zeta.
  unfold residual, Rmax, Rmin.
  repeat (destruct Rle_dec; try lra); destruct Rlt_dec; try lra.
  repeat split; try (f_equal; [field | f_equal; field]); intro E; inversion E; lra.
Qed.

(* theorem: speculative-shared-coin *)
Theorem speculative_shared_coin_witness :
  (* one coin (1/2) picks A = (1, 0) or B = (0, 1) at both positions: every marginal is p = (1/2, 1/2) *)
  let A := [1; 0] in let B := [0; 1] in
  let p i := (nth i A 0 + nth i B 0) / 2 in
  let joint i j := (nth i A 0 * nth j A 0 + nth i B 0 * nth j B 0) / 2 in
  (forall i, (i < 2)%nat -> joint i 0%nat + joint i 1%nat = p i) /\ joint 0%nat 0%nat = 1 / 2 /\
  p 0%nat * p 0%nat = 1 / 4.
Proof. cbv zeta; split; [intros [|[|i]] H; simpl; try lia; lra | simpl; split; lra]. Qed.
