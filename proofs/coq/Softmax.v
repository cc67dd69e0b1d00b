(** Softmax over rows of any length: the seed theorems. *)

From Coq Require Import Reals Lra List Bool.
From SamplerProofs Require Import Rules Rows.
Import ListNotations.
Open Scope R_scope.

Definition sumexp (z : list R) : R := fold_right Rplus 0 (map exp z).

Definition softmax (z : list R) : list R := map (fun x => exp x / sumexp z) z.

Definition lse (z : list R) : R := ln (sumexp z).

(** The softmax over the survivors (0 for the others): the probabilities a filter reads. *)
Definition msum (ts : list (tok R)) : R := sumf R_ops (fun t => exp (val t)) on ts.

Definition mprob (S : R) (t : tok R) : R := if on t then exp (val t) / S else 0.

Definition msoftmax (z : list R) (m : list bool) : list R :=
  let ts := toks z m in map (mprob (msum ts)) ts.

(** The softmax is the rule Rules.v evaluates at Q, on the weights exp z. *)
Lemma msoftmax_normalize z m : msoftmax z m = normalize R_ops (map exp z) m.
Proof.
  unfold msoftmax, normalize; rewrite toks_map, sumf_map, map_map; simpl.
  apply map_ext; intro t; unfold mprob, msum; reflexivity.
Qed.

Lemma msum_all i z : msum (toks_from i z (map (fun _ => true) z)) = sumexp z.
Proof. revert i; unfold msum, sumexp; induction z; intros; simpl; auto; rewrite IHz; reflexivity. Qed.

Lemma mprob_all S i z : map (mprob S) (toks_from i z (map (fun _ => true) z)) = map (fun x => exp x / S) z.
Proof. revert i; induction z; intros; simpl; auto; rewrite IHz; reflexivity. Qed.

Lemma softmax_normalize z : softmax z = normalize R_ops (map exp z) (all_on z).
Proof.
  rewrite <- msoftmax_normalize; unfold msoftmax, softmax, toks, all_on; rewrite msum_all, mprob_all; reflexivity.
Qed.

Lemma sumexp_shift z c : sumexp (map (fun x => x - c) z) = exp (- c) * sumexp z.
Proof.
  unfold sumexp; induction z; simpl; [ring|]; rewrite IHz.
  unfold Rminus; rewrite exp_plus; ring.
Qed.

Lemma sumexp_pos z : z <> [] -> 0 < sumexp z.
Proof.
  destruct z as [|a z]; [congruence|]; intros _; unfold sumexp; simpl.
  assert (0 <= fold_right Rplus 0 (map exp z)).
  { induction z; simpl; [lra|]; pose proof (exp_pos a0); lra. }
  pose proof (exp_pos a); lra.
Qed.

Lemma shift_ratio a S c : exp (a - c) / (exp (- c) * S) = exp a / S.
Proof.
  unfold Rminus, Rdiv; rewrite exp_plus, Rinv_mult.
  pose proof (exp_pos (- c)).
  replace (exp a * exp (- c) * (/ exp (- c) * / S)) with (exp a * / S * (exp (- c) * / exp (- c))) by ring.
  rewrite Rinv_r; [ring | lra].
Qed.

(* theorem: softmax-shift *)
Theorem softmax_shift : forall (z : list R) (c : R),
  softmax (map (fun x => x - c) z) = softmax z.
Proof.
  intros z c; unfold softmax; rewrite sumexp_shift, map_map; apply map_ext; intro a.
  apply shift_ratio.
Qed.

(* theorem: log-softmax *)
Theorem log_softmax : forall z : list R,
  map ln (softmax z) = map (fun x => x - lse z) z.
Proof.
  intro z; destruct z as [|a z']; [reflexivity|]; set (z := a :: z').
  assert (HS : 0 < sumexp z) by (apply sumexp_pos; discriminate).
  unfold softmax, lse; rewrite map_map; apply map_ext; intro x.
  unfold Rdiv; rewrite ln_mult, ln_exp, ln_Rinv; [ring | exact HS | apply exp_pos | apply Rinv_0_lt_compat, HS].
Qed.

(* theorem: softmax-of-logprobs *)
Theorem softmax_of_logprobs : forall z : list R,
  softmax (map (fun x => x - lse z) z) = softmax z.
Proof. intro z; apply softmax_shift. Qed.

(** The masked softmax moves with the shift too. *)
Lemma msum_shift ts c :
  msum (map (retok (fun t => val t - c)) ts) = exp (- c) * msum ts.
Proof.
  unfold msum; rewrite sumf_map; simpl; rewrite <- sumf_scale; apply sumf_ext; auto.
  intros; unfold Rminus; rewrite exp_plus; ring.
Qed.

Theorem msoftmax_shift : forall z m c, msoftmax (map (fun x => x - c) z) m = msoftmax z m.
Proof.
  intros z m c; unfold msoftmax; rewrite toks_map, msum_shift, map_map; apply map_ext; intro t.
  unfold mprob; simpl; destruct (on t); auto; apply shift_ratio.
Qed.

(** Temperature: z / T. *)
Definition scale (T : R) (z : list R) : list R := map (fun x => x / T) z.

Lemma scale_shift T c z : T <> 0 ->
  map (fun x => (x - c) / T) z = map (fun x => x - c / T) (scale T z).
Proof. intro HT; unfold scale; rewrite map_map; apply map_ext; intro; field; auto. Qed.

(* theorem: temperature-shift *)
Theorem temperature_shift_softmax : forall (z : list R) (c T : R), 0 < T ->
  softmax (map (fun x => (x - c) / T) z) = softmax (scale T z).
Proof. intros z c T HT; rewrite scale_shift by lra; apply softmax_shift. Qed.

(* theorem: temperature-shift *)
Theorem temperature_shift_argmax : forall (z : list R) (T : R), 0 < T ->
  argmax R_ops (scale T z) = argmax R_ops z.
Proof. intros z T HT; apply argmax_mono, mono_scale, HT. Qed.

(** The same for the temperature as Rules.v writes it. *)
Lemma temperature_is_scale T z : temperature R_ops T z = scale T z.
Proof. reflexivity. Qed.
