(** Greedy decoding (first index on ties) and the coupled draws, for rows of any length. *)

From Coq Require Import Reals Lra List Bool.
From SamplerProofs Require Import Rules Rows Softmax.
Import ListNotations.
Open Scope R_scope.

(* theorem: argmax-shift *)
Theorem argmax_shift : forall (z : list R) (c : R),
  argmax R_ops (map (fun x => x - c) z) = argmax R_ops z.
Proof. intros; apply argmax_mono, mono_shift. Qed.

(* theorem: greedy-logprobs *)
Theorem greedy_logprobs : forall z : list R,
  argmax R_ops (map (fun x => x - lse z) z) = argmax R_ops z.
Proof. intros; apply argmax_shift. Qed.

(** Gumbel-max: the same noise g added to z and to z - c. *)
Definition perturb (z g : list R) : list R := map (fun '(x, y) => x + y) (combine z g).

Lemma perturb_shift z g c : perturb (map (fun x => x - c) z) g = map (fun x => x - c) (perturb z g).
Proof.
  unfold perturb; revert g; induction z; intros [|b g]; simpl; auto; rewrite IHz; f_equal; ring.
Qed.

(* theorem: gumbel-coupling *)
Theorem gumbel_coupling_max : forall (z g : list R) (c : R),
  argmax R_ops (perturb (map (fun x => x - c) z) g) = argmax R_ops (perturb z g).
Proof. intros; rewrite perturb_shift; apply argmax_shift. Qed.

(** Inverse CDF with the same uniform u: scaling every weight by s > 0 changes no comparison. *)
Lemma icdf_go_scale s i acc thr w : 0 < s ->
  icdf_go R_ops i (s * acc) (s * thr) (map (fun x => s * x) w) = icdf_go R_ops i acc thr w.
Proof.
  intro Hs; revert i acc; induction w as [|x w IH]; intros; simpl; auto.
  replace (s * acc + s * x) with (s * (acc + x)) by ring; rewrite IH.
  replace (Rltb (s * thr) (s * (acc + x))) with (Rltb thr (acc + x)); auto.
  unfold Rltb; destruct Rlt_dec, Rlt_dec; auto; exfalso; [apply n | apply n]; nra.
Qed.

Lemma total_scale s w : fold_right Rplus 0 (map (fun x => s * x) w) = s * fold_right Rplus 0 w.
Proof. induction w; simpl; [ring|]; rewrite IHw; ring. Qed.

Lemma icdf_scale : forall (u s : R) (w : list R), 0 < s ->
  icdf R_ops u (map (fun x => s * x) w) = icdf R_ops u w.
Proof.
  intros u s w Hs; unfold icdf; simpl; rewrite total_scale.
  replace (u * (s * fold_right Rplus 0 w)) with (s * (u * fold_right Rplus 0 w)) by ring.
  replace 0 with (s * 0) at 1 by ring; apply icdf_go_scale, Hs.
Qed.

(* theorem: gumbel-coupling *)
Theorem gumbel_coupling_icdf : forall (z : list R) (c u : R),
  icdf R_ops u (map exp (map (fun x => x - c) z)) = icdf R_ops u (map exp z).
Proof.
  intros z c u; rewrite <- (icdf_scale u (exp (- c)) (map exp z)) by apply exp_pos.
  f_equal; rewrite !map_map; apply map_ext; intro; unfold Rminus; rewrite exp_plus; ring.
Qed.

(* theorem: gumbel-coupling *)
Theorem gumbel_coupling_icdf_probs : forall (z : list R) (c u : R),
  icdf R_ops u (softmax (map (fun x => x - c) z)) = icdf R_ops u (softmax z).
Proof. intros; rewrite softmax_shift; reflexivity. Qed.
