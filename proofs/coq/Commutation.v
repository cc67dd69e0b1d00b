(** Commutation cells marked "=" in README's table, for rows of any length. A pipeline state is the
    scores and the keep mask; a filter changes the mask, temperature / shift / bias / repetition
    change the scores. Two orders commute when they give the same state (so the same keep-set and
    the same probabilities), or, for a shift, states whose masked softmax is the same. *)

From Coq Require Import Reals Lra Lia List Bool Arith.
From SamplerProofs Require Import Rules Rows Softmax Filters Samplers.
Import ListNotations.
Open Scope R_scope.

Definition state := (list R * list bool)%type.

Definition s_temp (T : R) (s : state) : state := (scale T (fst s), snd s).
Definition s_shift (c : R) (s : state) : state := (map (fun x => x - c) (fst s), snd s).
Definition s_bias (b : list R) (s : state) : state := (bias R_ops b (fst s), snd s).
Definition s_rep (theta : R) (seen : list bool) (s : state) : state := (repetition R_ops theta seen (fst s), snd s).
Definition s_topk (k : nat) (s : state) : state := (fst s, topk_all R_ops k (fst s) (snd s)).
Definition s_topk_exact (k : nat) (s : state) : state := (fst s, topk_exact R_ops k (fst s) (snd s)).
Definition s_topp ties P mtk (s : state) : state := (fst s, topp_R ties P mtk (fst s) (snd s)).
Definition s_minp mm mtk (s : state) : state := (fst s, minp_R mm mtk (fst s) (snd s)).

(** The distribution a state samples from. *)
Definition dist (s : state) : list R := msoftmax (fst s) (snd s).

(* theorem: commute-temperature-top-k *)
Theorem commute_temperature_top_k : forall T k s, 0 < T -> s_topk k (s_temp T s) = s_temp T (s_topk k s).
Proof. intros T k [z m] HT; unfold s_topk, s_temp, scale; simpl; rewrite topk_all_mono by (apply mono_scale, HT); auto. Qed.

(* theorem: commute-top-k-temperature *)
Theorem commute_top_k_temperature : forall T k s, 0 < T -> s_temp T (s_topk k s) = s_topk k (s_temp T s).
Proof. intros; symmetry; apply commute_temperature_top_k; auto. Qed.

(* theorem: commute-temperature-top-k-exact *)
Theorem commute_temperature_top_k_exact : forall T k s, 0 < T ->
  s_topk_exact k (s_temp T s) = s_temp T (s_topk_exact k s).
Proof. intros T k [z m] HT; unfold s_topk_exact, s_temp, scale; simpl; rewrite topk_exact_mono by (apply mono_scale, HT); auto. Qed.

(* theorem: commute-top-k-exact-temperature *)
Theorem commute_top_k_exact_temperature : forall T k s, 0 < T ->
  s_temp T (s_topk_exact k s) = s_topk_exact k (s_temp T s).
Proof. intros; symmetry; apply commute_temperature_top_k_exact; auto. Qed.

(* theorem: commute-shift-top-k *)
Theorem commute_shift_top_k : forall c k s, s_topk k (s_shift c s) = s_shift c (s_topk k s).
Proof. intros c k [z m]; unfold s_topk, s_shift; simpl; rewrite top_k_shift; auto. Qed.

(* theorem: commute-top-k-shift *)
Theorem commute_top_k_shift : forall c k s, s_shift c (s_topk k s) = s_topk k (s_shift c s).
Proof. intros; symmetry; apply commute_shift_top_k. Qed.

(* theorem: commute-shift-top-k-exact *)
Theorem commute_shift_top_k_exact : forall c k s, s_topk_exact k (s_shift c s) = s_shift c (s_topk_exact k s).
Proof. intros c k [z m]; unfold s_topk_exact, s_shift; simpl; rewrite top_k_exact_shift; auto. Qed.

(* theorem: commute-top-k-exact-shift *)
Theorem commute_top_k_exact_shift : forall c k s, s_shift c (s_topk_exact k s) = s_topk_exact k (s_shift c s).
Proof. intros; symmetry; apply commute_shift_top_k_exact. Qed.

(* theorem: commute-shift-top-p *)
Theorem commute_shift_top_p : forall c ties P mtk s, s_topp ties P mtk (s_shift c s) = s_shift c (s_topp ties P mtk s).
Proof. intros c ties P mtk [z m]; unfold s_topp, s_shift; simpl; rewrite top_p_shift; auto. Qed.

(* theorem: commute-top-p-shift *)
Theorem commute_top_p_shift : forall c ties P mtk s, s_shift c (s_topp ties P mtk s) = s_topp ties P mtk (s_shift c s).
Proof. intros; symmetry; apply commute_shift_top_p. Qed.

(* theorem: commute-shift-min-p *)
Theorem commute_shift_min_p : forall c mm mtk s, s_minp mm mtk (s_shift c s) = s_shift c (s_minp mm mtk s).
Proof. intros c mm mtk [z m]; unfold s_minp, s_shift; simpl; rewrite min_p_shift; auto. Qed.

(* theorem: commute-min-p-shift *)
Theorem commute_min_p_shift : forall c mm mtk s, s_shift c (s_minp mm mtk s) = s_minp mm mtk (s_shift c s).
Proof. intros; symmetry; apply commute_shift_min_p. Qed.

Lemma bias_shift b c z : bias R_ops b (map (fun x => x - c) z) = map (fun x => x - c) (bias R_ops b z).
Proof.
  unfold bias; rewrite map_length; generalize (b ++ repeat (zero R_ops) (length z)) as l.
  induction z; intros [|y l]; simpl; auto; rewrite IHz; f_equal; ring.
Qed.

(* theorem: commute-shift-bias *)
Theorem commute_shift_bias : forall c b s, s_bias b (s_shift c s) = s_shift c (s_bias b s).
Proof. intros c b [z m]; unfold s_bias, s_shift; simpl; rewrite bias_shift; auto. Qed.

(* theorem: commute-bias-shift *)
Theorem commute_bias_shift : forall c b s, s_shift c (s_bias b s) = s_bias b (s_shift c s).
Proof. intros; symmetry; apply commute_shift_bias. Qed.

(** Temperature and a shift give different scores, shifts of each other: the same distribution. *)
(* theorem: commute-temperature-shift *)
Theorem commute_temperature_shift : forall T c s, 0 < T -> dist (s_shift c (s_temp T s)) = dist (s_temp T (s_shift c s)).
Proof.
  intros T c [z m] HT; unfold dist, s_shift, s_temp; simpl; rewrite msoftmax_shift.
  unfold scale; rewrite map_map.
  replace (map (fun x => (x - c) / T) z) with (map (fun x => x - c / T) (map (fun x => x / T) z))
    by (rewrite map_map; apply map_ext; intro; field; lra).
  rewrite msoftmax_shift; reflexivity.
Qed.

(* theorem: commute-shift-temperature *)
Theorem commute_shift_temperature : forall T c s, 0 < T -> dist (s_temp T (s_shift c s)) = dist (s_shift c (s_temp T s)).
Proof. intros; symmetry; apply commute_temperature_shift; auto. Qed.

Lemma penalize_scale theta T x : 0 < T -> 0 < theta ->
  penalize R_ops theta (x / T) = penalize R_ops theta x / T.
Proof.
  intros HT Hth; unfold penalize; simpl.
  assert (E : Rltb 0 (x / T) = Rltb 0 x) by (replace 0 with (0 / T) at 1 by (field; lra); apply mono_scale, HT).
  rewrite E; destruct (Rltb 0 x); field; lra.
Qed.

(* theorem: commute-repetition-temperature *)
Theorem commute_repetition_temperature : forall theta seen T s, 0 < T -> 0 < theta ->
  s_temp T (s_rep theta seen s) = s_rep theta seen (s_temp T s).
Proof.
  intros theta seen T [z m] HT Hth; unfold s_temp, s_rep, repetition, scale; simpl; f_equal.
  rewrite map_length; generalize (seen ++ repeat false (length z)); clear seen m.
  induction z as [|x z IH]; intros [|b l]; simpl; auto; f_equal; auto.
  destruct b; auto; rewrite penalize_scale; auto.
Qed.

(* theorem: commute-temperature-repetition *)
Theorem commute_temperature_repetition : forall theta seen T s, 0 < T -> 0 < theta ->
  s_rep theta seen (s_temp T s) = s_temp T (s_rep theta seen s).
Proof. intros; symmetry; apply commute_repetition_temperature; auto. Qed.

(** Top-k (either tie rule) and min-p commute: min-p keeps an upward-closed set containing the
    maximum, top-k ranks a token only against larger (or earlier equal) tokens, so each filter
    reads on the other's survivors exactly what it reads on the whole row. min-p as the commutation
    table states it: 0 < m <= 1, min_tokens_to_keep = 1. *)

Definition remask (f : tok R -> bool) (t : tok R) : tok R := Tok (ix t) (val t) (f t).

Lemma toks_from_remask (f : tok R -> bool) i z m :
  toks_from i z (map f (toks_from i z m)) = map (remask f) (toks_from i z m).
Proof. revert i m; induction z; intros; simpl; auto; rewrite IHz; reflexivity. Qed.

Lemma toks_remask (f : tok R -> bool) z m : toks z (map f (toks z m)) = map (remask f) (toks z m).
Proof. apply toks_from_remask. Qed.

Lemma at_least_noop mtk kept rank : (mtk <= count_true kept)%nat -> at_least mtk kept rank = kept.
Proof. intro H; unfold at_least; replace (Nat.ltb (count_true kept) mtk) with false; auto.
  symmetry; apply Nat.ltb_ge, H. Qed.

Lemma count_true_pos {B} (f : B -> bool) l t : In t l -> f t = true -> (1 <= count_true (map f l))%nat.
Proof.
  unfold count_true, count; induction l as [|a l IH]; simpl; [tauto|]; intros [->|H] E.
  - rewrite E; simpl; lia.
  - destruct (f a); simpl; [lia | auto].
Qed.

Lemma count_zero {B} (f : B -> bool) l : (forall x, In x l -> f x = false) -> count f l = 0%nat.
Proof. intro H; unfold count; induction l; simpl; auto; rewrite H by (left; auto); apply IHl; intros; apply H; right; auto. Qed.

Lemma count_pos {B} (f : B -> bool) l : count f l <> 0%nat -> exists x, In x l /\ f x = true.
Proof.
  unfold count; intro H; destruct (filter f l) as [|x r] eqn:E; [simpl in H; congruence|].
  exists x; apply filter_In; rewrite E; left; auto.
Qed.

(** A rank filter: keep t iff fewer than k alive tokens stand in relation rel to it. *)
Definition rank_keep (rel : tok R -> tok R -> bool) (k : nat) (ts : list (tok R)) (t : tok R) : bool :=
  on t && Nat.ltb (count (rel t) ts) k.

(** rel only looks at alive tokens at least as large. *)
Definition upward (rel : tok R -> tok R -> bool) :=
  forall t u, rel t u = true -> on u = true /\ val t <= val u /\
    forall b, rel (Tok (ix t) (val t) (on t)) (Tok (ix u) (val u) b) = b && rel t u.

Lemma upward_above : upward (above R_ops).
Proof.
  intros t u H; unfold above in *; simpl in *; apply andb_true_iff in H; destruct H as [H1 H2].
  apply Rltb_true in H2; split; auto; split; [lra|]; intro b; simpl; rewrite H1; destruct b; simpl; auto.
Qed.

Lemma upward_ahead : upward (ahead R_ops).
Proof.
  intros [i x o] [j y p] H; unfold ahead in *; simpl in *; apply andb_true_iff in H; destruct H as [H1 H2].
  subst p; split; auto; split.
  - apply orb_true_iff in H2; destruct H2 as [H2|H2]; [apply Rltb_true in H2; lra|].
    apply andb_true_iff in H2; destruct H2 as [H2 _]; apply eqb_R in H2; lra.
  - intro b; destruct b; simpl; auto.
Qed.

Definition thr_keep (th : R) (t : tok R) : bool := on t && Rleb th (val t).

Lemma rank_thr_commute rel k th ts t : upward rel -> In t ts ->
  rank_keep rel k (map (remask (thr_keep th)) ts) (remask (thr_keep th) t)
  = thr_keep th t && rank_keep rel k ts t.
Proof.
  intros U Ht; unfold rank_keep; simpl.
  destruct (thr_keep th t) eqn:P; simpl; auto.
  assert (Ot : on t = true) by (unfold thr_keep in P; apply andb_true_iff in P; tauto).
  assert (Th : th <= val t) by (unfold thr_keep in P; apply andb_true_iff in P; destruct P; apply Rleb_true; auto).
  rewrite Ot; simpl; f_equal; rewrite count_map; apply count_ext; intros u Hu; unfold remask.
  destruct (rel t u) eqn:R.
  - destruct (U t u R) as [Ou [Le E]]; destruct t as [i x o]; destruct u as [j y p]; simpl in *; subst o p.
    rewrite P, E, R; unfold thr_keep; simpl; replace (Rleb th y) with true; auto; symmetry; apply Rleb_true; lra.
  - destruct (rel (Tok (ix t) (val t) (thr_keep th t)) (Tok (ix u) (val u) (thr_keep th u))) eqn:R'; auto.
    exfalso; destruct (U _ _ R') as [Ou [_ E]]; simpl in Ou, E; specialize (E true).
    rewrite R', P in E; simpl in E.
    assert (Ou' : on u = true) by (unfold thr_keep in Ou; apply andb_true_iff in Ou; tauto).
    destruct t as [i x o]; destruct u as [j y q]; simpl in *; subst o q; congruence.
Qed.

Definition strict_index (rel : tok R -> tok R -> bool) :=
  forall t u, rel t u = true -> val t = val u -> (ix u < ix t)%nat.

Lemma strict_above : strict_index (above R_ops).
Proof. intros t u H E; unfold above in H; apply andb_true_iff in H; destruct H as [_ H]; apply Rltb_true in H; lra. Qed.

Lemma strict_ahead : strict_index (ahead R_ops).
Proof.
  intros t u H E; unfold ahead in H; apply andb_true_iff in H; destruct H as [_ H]; apply orb_true_iff in H.
  destruct H as [H|H]; [apply Rltb_true in H; lra|]; apply andb_true_iff in H; destruct H as [_ H].
  apply Nat.ltb_lt, H.
Qed.

Lemma vmax_in ts : (exists t, In t ts /\ on t = true) ->
  exists t, In t ts /\ on t = true /\ val t = vmax R_ops ts.
Proof.
  intros [t [Ht Ot]]; unfold vmax.
  assert (N : map val (filter on ts) <> []).
  { intro N; apply map_eq_nil in N; assert (In t (filter on ts)) by (apply filter_In; auto); rewrite N in H; auto. }
  apply maxl_in in N; apply in_map_iff in N; destruct N as [u [E Hu]]; apply filter_In in Hu.
  exists u; tauto.
Qed.

Lemma vmax_ge ts t : In t ts -> on t = true -> val t <= vmax R_ops ts.
Proof. intros; unfold vmax; apply maxl_ge, in_map, filter_In; auto. Qed.

Lemma top_exists rel ts : upward rel -> strict_index rel -> (exists t, In t ts /\ on t = true) ->
  exists t, In t ts /\ on t = true /\ val t = vmax R_ops ts /\ count (rel t) ts = 0%nat.
Proof.
  intros U SI Some'; destruct (vmax_in ts Some') as [t0 [H0 [O0 V0]]].
  assert (G : forall n t, In t ts -> on t = true -> val t = vmax R_ops ts -> (ix t < n)%nat ->
            exists t, In t ts /\ on t = true /\ val t = vmax R_ops ts /\ count (rel t) ts = 0%nat).
  { induction n; intros t Ht Ot Vt Lt; [lia|].
    destruct (count (rel t) ts) eqn:C; [exists t; auto|].
    destruct (count_pos (rel t) ts) as [u [Hu R]]; [congruence|].
    destruct (U t u R) as [Ou [Le _]]; pose proof (vmax_ge ts u Hu Ou).
    pose proof (SI t u R ltac:(lra)); apply (IHn u); auto; lra || lia. }
  apply (G (S (ix t0)) t0); auto.
Qed.

Lemma vmax_sub (f : tok R -> bool) ts : (forall t, In t ts -> f t = true -> on t = true) ->
  (exists t, In t ts /\ f t = true /\ val t = vmax R_ops ts) ->
  vmax R_ops (map (remask f) ts) = vmax R_ops ts.
Proof.
  intros Sub [t [Ht [Ft Vt]]].
  assert (E : map val (filter on (map (remask f) ts)) = map val (filter f ts)).
  { clear; induction ts as [|a ts IH]; simpl; auto; destruct (f a); simpl; rewrite IH; auto. }
  unfold vmax at 1; rewrite E.
  assert (In (val t) (map val (filter f ts))) by (apply in_map, filter_In; auto).
  assert (N : map val (filter f ts) <> []) by (intro N; rewrite N in H; auto).
  pose proof (maxl_ge _ _ H); apply maxl_in in N.
  apply in_map_iff in N; destruct N as [u [Eu Hu]]; apply filter_In in Hu; destruct Hu as [Hu Fu].
  pose proof (vmax_ge ts u Hu (Sub u Hu Fu)); lra.
Qed.

(** Both orders keep the tokens that pass the threshold max + log m and the rank filter. *)
Lemma rank_then_minp rel k lm z m : upward rel -> strict_index rel -> (1 <= k)%nat -> lm <= 0 ->
  minp_log lm 1 z (map (rank_keep rel k (toks z m)) (toks z m))
  = map (fun t => thr_keep (vmax R_ops (toks z m) + lm) t && rank_keep rel k (toks z m) t) (toks z m).
Proof.
  intros U SI Hk Hl; unfold minp_log; rewrite toks_remask; set (ts := toks z m).
  destruct (none_or_some ts) as [N|S].
  - rewrite !map_map.
    rewrite (map_ext_in _ (fun _ => false) ts) by (intros t Ht; unfold remask, rank_keep; simpl; rewrite (N t Ht); auto).
    rewrite (map_ext_in (fun x => topk_exact_keep R_ops 1 _ _) (fun _ => false) ts)
      by (intros t Ht; unfold remask, rank_keep, topk_exact_keep; simpl; rewrite (N t Ht); auto).
    rewrite (map_ext_in (fun t => thr_keep _ t && _) (fun _ => false) ts)
      by (intros t Ht; unfold thr_keep; rewrite (N t Ht); auto).
    unfold at_least; destruct (Nat.ltb _ 1); auto; clear; induction ts; simpl; f_equal; auto.
  - destruct (top_exists rel ts U SI S) as [t [Ht [Ot [Vt Ct]]]].
    assert (Kt : rank_keep rel k ts t = true) by (unfold rank_keep; rewrite Ot, Ct; simpl; apply Nat.ltb_lt; lia).
    rewrite vmax_sub; [| intros u _ Ku; unfold rank_keep in Ku; apply andb_true_iff in Ku; tauto | exists t; auto].
    rewrite at_least_noop.
    + rewrite map_map; apply map_ext; intro u; unfold remask, thr_keep; simpl.
      destruct (rank_keep rel k ts u) eqn:K; destruct (on u) eqn:Ou; simpl;
        rewrite ?andb_true_r, ?andb_false_r; auto; unfold rank_keep in K; rewrite Ou in K; discriminate.
    + apply (count_true_pos _ _ (remask (rank_keep rel k ts) t)); [apply in_map; auto|].
      unfold remask; simpl; rewrite Kt; simpl; apply Rleb_true; lra.
Qed.

Lemma minp_log_one lm z m : lm <= 0 ->
  minp_log lm 1 z m = map (thr_keep (vmax R_ops (toks z m) + lm)) (toks z m).
Proof.
  intro Hl; unfold minp_log; set (ts := toks z m).
  destruct (none_or_some ts) as [N|Some'].
  - rewrite (map_ext_in _ (fun _ => false) ts) by (intros t Ht; rewrite (N t Ht); auto).
    rewrite (map_ext_in (topk_exact_keep R_ops 1 ts) (fun _ => false) ts)
      by (intros t Ht; unfold topk_exact_keep; rewrite (N t Ht); auto).
    rewrite (map_ext_in (thr_keep _) (fun _ => false) ts) by (intros t Ht; unfold thr_keep; rewrite (N t Ht); auto).
    unfold at_least; destruct (Nat.ltb _ 1); auto; clear; induction ts; simpl; f_equal; auto.
  - destruct (vmax_in ts Some') as [t [Ht [Ot Vt]]].
    rewrite at_least_noop; [reflexivity|].
    apply (count_true_pos _ _ t Ht); simpl; rewrite Ot; simpl; apply Rleb_true; lra.
Qed.

Lemma minp_then_rank rel k lm z m : upward rel -> lm <= 0 ->
  map (rank_keep rel k (toks z (minp_log lm 1 z m))) (toks z (minp_log lm 1 z m))
  = map (fun t => thr_keep (vmax R_ops (toks z m) + lm) t && rank_keep rel k (toks z m) t) (toks z m).
Proof.
  intros U Hl; rewrite minp_log_one, toks_remask, map_map by auto.
  apply map_ext_in; intros t Ht; apply rank_thr_commute; auto.
Qed.

Lemma ln_nonpos mm : 0 < mm <= 1 -> ln mm <= 0.
Proof. intro H; rewrite <- ln_1; destruct (Rle_lt_or_eq_dec _ _ (proj2 H)) as [h|h]; [left; apply ln_increasing; lra | subst; lra]. Qed.

Lemma filter_minp_commute rel k mm z m : upward rel -> strict_index rel -> (1 <= k)%nat -> 0 < mm <= 1 ->
  minp_R mm 1 z (map (rank_keep rel k (toks z m)) (toks z m))
  = map (rank_keep rel k (toks z (minp_R mm 1 z m))) (toks z (minp_R mm 1 z m)).
Proof.
  intros U SI Hk Hm; rewrite <- !min_p_log_is_prob by lra.
  rewrite rank_then_minp, minp_then_rank; auto; apply ln_nonpos; auto.
Qed.

(* theorem: commute-top-k-min-p *)
Theorem commute_top_k_min_p : forall (k : nat) (mm : R) (s : state), (1 <= k)%nat -> 0 < mm <= 1 ->
  s_minp mm 1 (s_topk k s) = s_topk k (s_minp mm 1 s).
Proof.
  intros k mm [z m] Hk Hm; unfold s_minp, s_topk; simpl; f_equal.
  apply (filter_minp_commute (above R_ops)); auto using upward_above, strict_above.
Qed.

(* theorem: commute-min-p-top-k *)
Theorem commute_min_p_top_k : forall (k : nat) (mm : R) (s : state), (1 <= k)%nat -> 0 < mm <= 1 ->
  s_topk k (s_minp mm 1 s) = s_minp mm 1 (s_topk k s).
Proof. intros; symmetry; apply commute_top_k_min_p; auto. Qed.

(* theorem: commute-top-k-exact-min-p *)
Theorem commute_top_k_exact_min_p : forall (k : nat) (mm : R) (s : state), (1 <= k)%nat -> 0 < mm <= 1 ->
  s_minp mm 1 (s_topk_exact k s) = s_topk_exact k (s_minp mm 1 s).
Proof.
  intros k mm [z m] Hk Hm; unfold s_minp, s_topk_exact; simpl; f_equal.
  apply (filter_minp_commute (ahead R_ops)); auto using upward_ahead, strict_ahead.
Qed.

(* theorem: commute-min-p-top-k-exact *)
Theorem commute_min_p_top_k_exact : forall (k : nat) (mm : R) (s : state), (1 <= k)%nat -> 0 < mm <= 1 ->
  s_topk_exact k (s_minp mm 1 s) = s_minp mm 1 (s_topk_exact k s).
Proof. intros; symmetry; apply commute_top_k_exact_min_p; auto. Qed.

(** Top-k with ties kept and top-k exactly: each keeps a set closed under "ranked before", so
    each ranks its tokens on the other's survivors as on the whole row. *)
Lemma rank_remask_commute rel k (F : tok R -> bool) ts t : upward rel -> In t ts ->
  (forall u, F u = true -> on u = true) ->
  (forall u, In u ts -> F t = true -> rel t u = true -> F u = true) ->
  rank_keep rel k (map (remask F) ts) (remask F t) = F t && rank_keep rel k ts t.
Proof.
  intros U Ht FO Cl; unfold rank_keep; simpl.
  destruct (F t) eqn:P; simpl; auto.
  rewrite (FO t P); simpl; f_equal; rewrite count_map; apply count_ext; intros u Hu; unfold remask.
  destruct (rel t u) eqn:R.
  - destruct (U t u R) as [Ou [Le E]]; pose proof (Cl u Hu eq_refl R) as Fu.
    destruct t as [i x o]; destruct u as [j y q]; simpl in *; subst q.
    pose proof (FO _ P) as Ot; simpl in Ot; subst o; rewrite P, Fu, E, R; auto.
  - destruct (rel (Tok (ix t) (val t) (F t)) (Tok (ix u) (val u) (F u))) eqn:R'; auto.
    exfalso; destruct (U _ _ R') as [Ou [_ E]]; simpl in Ou, E; specialize (E true).
    rewrite R', P in E; simpl in E; pose proof (FO u Ou) as Ou'.
    pose proof (FO t P) as Ot.
    destruct t as [i x o]; destruct u as [j y q]; simpl in *; subst o q; congruence.
Qed.

Lemma count_le {B} (f g : B -> bool) l : (forall x, In x l -> f x = true -> g x = true) -> (count f l <= count g l)%nat.
Proof.
  unfold count; induction l as [|a l IH]; simpl; intros H; auto.
  destruct (f a) eqn:Fa; [rewrite (H a (or_introl eq_refl) Fa); simpl|destruct (g a); simpl]; 
    (apply le_n_S || apply le_S || idtac); apply IH; intros; apply H; auto.
Qed.

Lemma closed_all_ahead k ts t u : rank_keep (above R_ops) k ts t = true -> ahead R_ops t u = true ->
  rank_keep (above R_ops) k ts u = true.
Proof.
  intros Kt A; destruct (upward_ahead t u A) as [Ou [Le _]].
  unfold rank_keep in *; rewrite Ou; apply andb_true_iff in Kt; destruct Kt as [_ Kt]; simpl.
  apply Nat.ltb_lt in Kt; apply Nat.ltb_lt; eapply Nat.le_lt_trans; [|exact Kt]; apply count_le.
  intros v _ B; unfold above in *; apply andb_true_iff in B; destruct B as [Ov B]; rewrite Ov; simpl.
  apply Rltb_true in B; apply Rltb_true; lra.
Qed.

Lemma closed_exact_above k ts t u : rank_keep (ahead R_ops) k ts t = true -> above R_ops t u = true ->
  rank_keep (ahead R_ops) k ts u = true.
Proof.
  intros Kt A; destruct (upward_above t u A) as [Ou [Le _]].
  assert (Lt : val t < val u) by (unfold above in A; apply andb_true_iff in A; apply Rltb_true; tauto).
  unfold rank_keep in *; rewrite Ou; apply andb_true_iff in Kt; destruct Kt as [_ Kt]; simpl.
  apply Nat.ltb_lt in Kt; apply Nat.ltb_lt; eapply Nat.le_lt_trans; [|exact Kt]; apply count_le.
  intros v _ B; destruct (upward_ahead u v B) as [Ov [Le' _]]; unfold ahead; rewrite Ov; simpl.
  replace (Rltb (val t) (val v)) with true; auto; symmetry; apply Rltb_true; lra.
Qed.

Lemma rank_on rel k ts u : rank_keep rel k ts u = true -> on u = true.
Proof. unfold rank_keep; intro H; apply andb_true_iff in H; tauto. Qed.

(* theorem: commute-top-k-top-k-exact *)
Theorem commute_top_k_top_k_exact : forall (k1 k2 : nat) (s : state),
  s_topk_exact k2 (s_topk k1 s) = s_topk k1 (s_topk_exact k2 s).
Proof.
  intros k1 k2 [z m]; unfold s_topk, s_topk_exact; simpl; f_equal.
  change (topk_all R_ops k1 z m) with (map (rank_keep (above R_ops) k1 (toks z m)) (toks z m)).
  change (topk_exact R_ops k2 z m) with (map (rank_keep (ahead R_ops) k2 (toks z m)) (toks z m)).
  unfold topk_exact, topk_all; rewrite !toks_remask, !map_map.
  change (topk_exact_keep R_ops k2) with (rank_keep (ahead R_ops) k2).
  change (topk_all_keep R_ops k1) with (rank_keep (above R_ops) k1).
  apply map_ext_in; intros t Ht.
  rewrite !rank_remask_commute; auto using upward_above, upward_ahead.
  - apply andb_comm.
  - intros u; apply rank_on.
  - intros u _ Kt A; eapply closed_exact_above; eauto.
  - intros u; apply rank_on.
  - intros u _ Kt A; eapply closed_all_ahead; eauto.
Qed.

(* theorem: commute-top-k-exact-top-k *)
Theorem commute_top_k_exact_top_k : forall (k1 k2 : nat) (s : state),
  s_topk k1 (s_topk_exact k2 s) = s_topk_exact k2 (s_topk k1 s).
Proof. intros; symmetry; apply commute_top_k_top_k_exact. Qed.

Definition s_tns (n : R) (s : state) : state := (fst s, tns_R n (fst s) (snd s)).

(* theorem: top-n-sigma-temperature *)
Theorem commute_temperature_top_n_sigma : forall (n T : R) (s : state), 0 < n -> 0 < T ->
  s_tns n (s_temp T s) = s_temp T (s_tns n s).
Proof. intros n T [z m] Hn HT; unfold s_tns, s_temp; simpl; rewrite tns_temperature; auto. Qed.
