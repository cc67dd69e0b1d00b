(** filters-shift for rows of any length: top-k (both tie rules), top-p (both tie rules,
    renormalised and original mass, min_tokens_to_keep) and min-p (probability space and log
    space, min_tokens_to_keep), each the rule of Rules.v read on the row the spec hands it. *)

From Coq Require Import Reals Lra List Bool Arith.
From SamplerProofs Require Import Rules Rows Softmax.
Import ListNotations.
Open Scope R_scope.

(** The probability-space rules read the softmax of the survivors (or of the unfiltered row). *)
Definition topp_R (ties_all : bool) (P : R) (mtk : nat) (z : list R) (m : list bool) : list bool :=
  topp R_ops ties_all P mtk (msoftmax z m) m.

(** tiny-llm's top-p: the masses of the row before any filter (z0), the survivors' mask m. *)
Definition topp_original_R (ties_all : bool) (P : R) (mtk : nat) (z0 : list R) (m : list bool) : list bool :=
  topp R_ops ties_all P mtk (softmax z0) m.

Definition minp_R (mm : R) (mtk : nat) (z : list R) (m : list bool) : list bool :=
  minp R_ops mm mtk (msoftmax z m) m.

(** min-p in log space, as spec/transforms.py computes it: z_i >= max z + log m. *)
Definition minp_log (lm : R) (mtk : nat) (z : list R) (m : list bool) : list bool :=
  let ts := toks z m in
  at_least mtk (map (fun t => on t && Rleb (vmax R_ops ts + lm) (val t)) ts)
    (map (topk_exact_keep R_ops mtk ts) ts).

(* theorem: filters-shift *)
Theorem top_k_shift : forall (k : nat) (z : list R) (m : list bool) (c : R),
  topk_all R_ops k (map (fun x => x - c) z) m = topk_all R_ops k z m.
Proof. intros; apply topk_all_mono, mono_shift. Qed.

(* theorem: filters-shift *)
Theorem top_k_exact_shift : forall (k : nat) (z : list R) (m : list bool) (c : R),
  topk_exact R_ops k (map (fun x => x - c) z) m = topk_exact R_ops k z m.
Proof. intros; apply topk_exact_mono, mono_shift. Qed.

(* theorem: filters-shift *)
Theorem top_p_shift : forall (ties_all : bool) (P : R) (mtk : nat) (z : list R) (m : list bool) (c : R),
  topp_R ties_all P mtk (map (fun x => x - c) z) m = topp_R ties_all P mtk z m.
Proof. intros; unfold topp_R; rewrite msoftmax_shift; reflexivity. Qed.

(* theorem: filters-shift *)
Theorem top_p_original_shift : forall (ties_all : bool) (P : R) (mtk : nat) (z0 : list R) (m : list bool) (c : R),
  topp_original_R ties_all P mtk (map (fun x => x - c) z0) m = topp_original_R ties_all P mtk z0 m.
Proof. intros; unfold topp_original_R; rewrite softmax_shift; reflexivity. Qed.

(* theorem: filters-shift *)
Theorem min_p_shift : forall (mm : R) (mtk : nat) (z : list R) (m : list bool) (c : R),
  minp_R mm mtk (map (fun x => x - c) z) m = minp_R mm mtk z m.
Proof. intros; unfold minp_R; rewrite msoftmax_shift; reflexivity. Qed.

Lemma map_on_false {B C} (f : tok B -> bool) (g : tok C -> bool) (l : list (tok B)) (l' : list (tok C)) :
  none_on l -> none_on l' -> length l = length l' ->
  map (fun t => on t && f t) l = map (fun t => on t && g t) l'.
Proof.
  revert l'; induction l as [|a l IH]; intros [|b l'] H H' E; simpl in *; try discriminate; auto.
  rewrite H, H' by (left; auto); f_equal; apply IH; auto; intros t Ht; [apply H | apply H']; right; auto.
Qed.

Lemma none_on_retok {B C} (g : tok B -> C) l : none_on l -> none_on (map (retok g) l).
Proof. intros H t Ht; apply in_map_iff in Ht; destruct Ht as [u [<- Hu]]; apply H, Hu. Qed.

(* theorem: filters-shift *)
Theorem min_p_log_shift : forall (lm : R) (mtk : nat) (z : list R) (m : list bool) (c : R),
  minp_log lm mtk (map (fun x => x - c) z) m = minp_log lm mtk z m.
Proof.
  intros lm mtk z m c; unfold minp_log; rewrite toks_map.
  pose proof (topk_exact_retok (fun t => val t - c) val mtk (toks z m)
                (same_order_mono (fun x => x - c) _ (mono_shift c))) as E.
  rewrite retok_id in E; rewrite E; f_equal.
  destruct (none_or_some (toks z m)) as [N|S].
  - apply map_on_false; auto using none_on_retok; rewrite map_length; reflexivity.
  - rewrite (vmax_mono (fun x => x - c)) by (auto using mono_shift).
    rewrite map_map; apply map_ext; intro t; simpl; f_equal.
    replace (vmax R_ops (toks z m) - c + lm) with ((vmax R_ops (toks z m) + lm) - c) by ring.
    apply (mono_leb _ (mono_shift c)).
Qed.

(** The log-space rule is the probability-space rule, for every m in (0, 1]: the spec may compute
    either. *)
Lemma toks_from_of_toks {C} (g : tok R -> C) i z m :
  toks_from i (map g (toks_from i z m)) m = map (retok g) (toks_from i z m).
Proof. revert i m; induction z; intros; simpl; auto; rewrite IHz; reflexivity. Qed.

Lemma toks_of_toks {C} (g : tok R -> C) z m : toks (map g (toks z m)) m = map (retok g) (toks z m).
Proof. apply toks_from_of_toks. Qed.

Lemma vmax_ext (g h : tok R -> R) ts : (forall t, In t ts -> on t = true -> g t = h t) ->
  vmax R_ops (map (retok g) ts) = vmax R_ops (map (retok h) ts).
Proof.
  intro H; unfold vmax; f_equal.
  induction ts as [|a ts IH]; simpl; auto.
  destruct (on a) eqn:Oa; simpl; rewrite IH by (intros; apply H; auto; right; auto); auto.
  rewrite H by (auto; left; auto); reflexivity.
Qed.

Lemma msum_pos ts : (exists t, In t ts /\ on t = true) -> 0 < msum ts.
Proof. intros [t [Ht Ot]]; eapply sumf_pos; eauto; intro; apply exp_pos. Qed.

Lemma mono_prob S : 0 < S -> mono (fun x => exp x / S).
Proof.
  intros HS x y; pose proof (mono_exp x y); pose proof (mono_scale S HS (exp x) (exp y)).
  unfold Rdiv in *; congruence.
Qed.

(* theorem: filters-shift *)
Theorem min_p_log_is_prob : forall (mm : R) (mtk : nat) (z : list R) (m : list bool), 0 < mm ->
  minp_log (ln mm) mtk z m = minp_R mm mtk z m.
Proof.
  intros mm mtk z m Hm; unfold minp_log, minp_R, minp, msoftmax; rewrite toks_of_toks.
  set (ts := toks z m); set (S := msum ts).
  destruct (none_or_some ts) as [N|Some].
  - f_equal; [apply map_on_false; auto using none_on_retok; rewrite map_length; auto|].
    rewrite !map_map; apply map_ext_in; intros t Ht; unfold topk_exact_keep; simpl; rewrite (N t Ht); auto.
  - assert (HS : 0 < S) by (apply msum_pos, Some).
    assert (O : same_order (mprob S) val ts).
    { intros t u _ _ Ot Ou; unfold mprob; rewrite Ot, Ou; apply (mono_prob S HS). }
    pose proof (topk_exact_retok (mprob S) val mtk ts O) as E; rewrite retok_id in E; rewrite E; f_equal.
    unfold minp_keep; rewrite (vmax_ext (mprob S) (fun t => exp (val t) / S)) by (intros t _ Ot; unfold mprob; rewrite Ot; auto).
    rewrite (vmax_mono (fun x => exp x / S)) by auto using mono_prob.
    rewrite map_map; apply map_ext; intro t; simpl; unfold mprob; destruct (on t); simpl; auto.
    set (v := vmax R_ops ts); set (x := val t).
    unfold Rleb; destruct Rle_dec as [h|h], Rle_dec as [h'|h']; auto; exfalso.
    + apply h'; unfold Rdiv; rewrite <- Rmult_assoc; apply Rmult_le_compat_r; [left; apply Rinv_0_lt_compat, HS|].
      rewrite <- (exp_ln mm Hm), <- exp_plus; apply (proj2 (exp_le_iff _ _)); lra.
    + apply h; unfold Rdiv in h'; rewrite <- Rmult_assoc in h'.
      apply Rmult_le_reg_r in h'; [|apply Rinv_0_lt_compat, HS].
      rewrite <- (exp_ln mm Hm), <- exp_plus in h'; apply (proj1 (exp_le_iff _ _)) in h'; lra.
Qed.
