(** The rules of Rules.v instantiated at the real numbers, and the facts every proof uses: the
    boolean comparisons are the real ones, a map of the row is a map of its tokens, and a rule that
    reads only the order of the alive values keeps the same tokens under any map that preserves
    that order (a shift z - c, a temperature z / T with T > 0). *)

From Coq Require Import Reals Lra List Bool Arith Lia.
From SamplerProofs Require Import Rules.
Import ListNotations.
Open Scope R_scope.

Definition Rleb (x y : R) : bool := if Rle_dec x y then true else false.
Definition Rltb (x y : R) : bool := if Rlt_dec x y then true else false.

Definition R_ops : ops R := Ops R 0 1 Rplus Rminus Rmult Rdiv Rleb Rltb.

Lemma Rleb_true x y : Rleb x y = true <-> x <= y.
Proof. unfold Rleb; destruct Rle_dec; split; intro; auto; discriminate. Qed.

Lemma Rltb_true x y : Rltb x y = true <-> x < y.
Proof. unfold Rltb; destruct Rlt_dec; split; intro; auto; discriminate. Qed.

Lemma Rleb_ltb x y : Rleb x y = negb (Rltb y x).
Proof. unfold Rleb, Rltb; destruct Rle_dec, Rlt_dec; auto; lra. Qed.

Lemma eqb_R x y : eqb R_ops x y = true <-> x = y.
Proof.
  unfold eqb; simpl; rewrite andb_true_iff, !Rleb_true; split; intros; [lra | subst; lra].
Qed.

(** A map of the values that preserves strict order preserves every comparison. *)
Definition mono (g : R -> R) := forall x y, Rltb (g x) (g y) = Rltb x y.

Lemma mono_leb g : mono g -> forall x y, Rleb (g x) (g y) = Rleb x y.
Proof. intros H x y; rewrite !Rleb_ltb, H; reflexivity. Qed.

Lemma mono_eqb g : mono g -> forall x y, eqb R_ops (g x) (g y) = eqb R_ops x y.
Proof. intros H x y; unfold eqb; simpl; rewrite !(mono_leb g H); reflexivity. Qed.

Lemma mono_shift c : mono (fun x => x - c).
Proof. intros x y; unfold Rltb; destruct Rlt_dec, Rlt_dec; auto; lra. Qed.

Lemma mono_scale T : 0 < T -> mono (fun x => x / T).
Proof.
  intros HT x y; unfold Rltb; destruct Rlt_dec as [h|h], Rlt_dec as [h'|h']; auto; exfalso.
  - apply h'; apply (Rmult_lt_reg_r (/ T)); [apply Rinv_0_lt_compat; lra | exact h].
  - apply h; apply Rmult_lt_compat_r; [apply Rinv_0_lt_compat; lra | exact h'].
Qed.

Lemma mono_exp : mono exp.
Proof.
  intros x y; unfold Rltb; destruct Rlt_dec as [h|h], Rlt_dec as [h'|h']; auto; exfalso.
  - apply h'; apply exp_lt_inv; exact h.
  - apply h; apply exp_increasing; exact h'.
Qed.

(** Tokens of a mapped row. *)
Definition retok {B C} (g : tok B -> C) (t : tok B) : tok C := Tok (ix t) (g t) (on t).

Lemma toks_from_map {B C} (f : B -> C) i z m :
  toks_from i (map f z) m = map (retok (fun t => f (val t))) (toks_from i z m).
Proof. revert i m; induction z; intros; simpl; [reflexivity | rewrite IHz; reflexivity]. Qed.

Lemma toks_map {B C} (f : B -> C) z m : toks (map f z) m = map (retok (fun t => f (val t))) (toks z m).
Proof. apply toks_from_map. Qed.

Lemma toks_from_length {B} i (z : list B) m : length (toks_from i z m) = length z.
Proof. revert i m; induction z; intros; simpl; auto. Qed.

Lemma count_map {B C} (f : C -> bool) (h : B -> C) l : count f (map h l) = count (fun x => f (h x)) l.
Proof. unfold count; induction l; simpl; auto; destruct (f (h a)); simpl; auto. Qed.

Lemma count_ext {B} (f g : B -> bool) l : (forall x, In x l -> f x = g x) -> count f l = count g l.
Proof. intro H; unfold count; rewrite (filter_ext_in f g); auto. Qed.

Lemma sumf_map {B C} (g : C -> R) (f : C -> bool) (h : B -> C) l :
  sumf R_ops g f (map h l) = sumf R_ops (fun x => g (h x)) (fun x => f (h x)) l.
Proof. induction l; simpl; auto; rewrite IHl; reflexivity. Qed.

Lemma sumf_ext {B} (g g' : B -> R) (f f' : B -> bool) l :
  (forall x, In x l -> f x = f' x) -> (forall x, In x l -> f x = true -> g x = g' x) ->
  sumf R_ops g f l = sumf R_ops g' f' l.
Proof.
  induction l; intros Hf Hg; simpl; auto.
  rewrite <- (Hf a) by (left; auto); rewrite IHl by (intros; auto using in_cons).
  destruct (f a) eqn:E; auto; rewrite Hg by (auto; left; auto); reflexivity.
Qed.

Lemma sumf_scale {B} (g : B -> R) f l s : sumf R_ops (fun x => s * g x) f l = s * sumf R_ops g f l.
Proof. induction l; simpl; [ring|]; destruct (f a); rewrite IHl; simpl; ring. Qed.

Lemma sumf_nonneg {B} (g : B -> R) f l : (forall x, 0 <= g x) -> 0 <= sumf R_ops g f l.
Proof. intro H; induction l; simpl; [lra|]; destruct (f a); simpl; auto; specialize (H a); lra. Qed.

Lemma sumf_pos {B} (g : B -> R) f l x : (forall x, 0 < g x) -> In x l -> f x = true -> 0 < sumf R_ops g f l.
Proof.
  intros H; induction l as [|a l IH]; simpl; [tauto|]; intros [->|Hin] Hx.
  - rewrite Hx; simpl; pose proof (sumf_nonneg g f l (fun y => Rlt_le _ _ (H y))); specialize (H x); lra.
  - destruct (f a); simpl; [|auto]; pose proof (IH Hin Hx); specialize (H a); lra.
Qed.

Lemma sumf_zero {B} (g : B -> R) f l : (forall x, In x l -> f x = false) -> sumf R_ops g f l = 0.
Proof. induction l; intro H; simpl; auto; rewrite H by (left; auto); apply IHl; intros; apply H; right; auto. Qed.

(** Order-based rules read the values only through comparisons between alive tokens, so a
    re-valuation of the tokens that keeps those comparisons keeps the same tokens. *)
Definition same_order {B} (g : tok B -> R) (h : tok B -> R) (l : list (tok B)) :=
  forall t u, In t l -> In u l -> on t = true -> on u = true -> Rltb (g t) (g u) = Rltb (h t) (h u).

Lemma same_order_eqb {B} g h (l : list (tok B)) t u : same_order g h l -> In t l -> In u l ->
  on t = true -> on u = true -> eqb R_ops (g t) (g u) = eqb R_ops (h t) (h u).
Proof.
  intros H ? ? ? ?; unfold eqb; simpl; rewrite !Rleb_ltb, (H u t), (H t u); auto.
Qed.

Lemma ahead_retok {B} (g h : tok B -> R) l t u : same_order g h l -> In t l -> In u l -> on t = true ->
  ahead R_ops (retok g t) (retok g u) = ahead R_ops (retok h t) (retok h u).
Proof.
  intros H Ht Hu Ot; unfold ahead; simpl; destruct (on u) eqn:Ou; simpl; auto.
  rewrite (H t u), (same_order_eqb g h l t u); auto.
Qed.

Lemma above_retok {B} (g h : tok B -> R) l t u : same_order g h l -> In t l -> In u l -> on t = true ->
  above R_ops (retok g t) (retok g u) = above R_ops (retok h t) (retok h u).
Proof.
  intros H Ht Hu Ot; unfold above; simpl; destruct (on u) eqn:Ou; simpl; auto; rewrite (H t u); auto.
Qed.

Lemma count_ahead_retok {B} (g h : tok B -> R) l t : same_order g h l -> In t l -> on t = true ->
  count (ahead R_ops (retok g t)) (map (retok g) l) = count (ahead R_ops (retok h t)) (map (retok h) l).
Proof.
  intros H Ht Ot; rewrite !count_map; apply count_ext; intros; eapply ahead_retok; eauto.
Qed.

Lemma count_above_retok {B} (g h : tok B -> R) l t : same_order g h l -> In t l -> on t = true ->
  count (above R_ops (retok g t)) (map (retok g) l) = count (above R_ops (retok h t)) (map (retok h) l).
Proof.
  intros H Ht Ot; rewrite !count_map; apply count_ext; intros; eapply above_retok; eauto.
Qed.

Lemma topk_exact_retok {B} (g h : tok B -> R) k l : same_order g h l ->
  map (topk_exact_keep R_ops k (map (retok g) l)) (map (retok g) l)
  = map (topk_exact_keep R_ops k (map (retok h) l)) (map (retok h) l).
Proof.
  intro H; rewrite !map_map; apply map_ext_in; intros t Ht; unfold topk_exact_keep; simpl.
  destruct (on t) eqn:Ot; simpl; auto; rewrite (count_ahead_retok g h l t); auto.
Qed.

Lemma topk_all_retok {B} (g h : tok B -> R) k l : same_order g h l ->
  map (topk_all_keep R_ops k (map (retok g) l)) (map (retok g) l)
  = map (topk_all_keep R_ops k (map (retok h) l)) (map (retok h) l).
Proof.
  intro H; rewrite !map_map; apply map_ext_in; intros t Ht; unfold topk_all_keep; simpl.
  destruct (on t) eqn:Ot; simpl; auto; rewrite (count_above_retok g h l t); auto.
Qed.

Lemma retok_id {B} (l : list (tok B)) : map (retok val) l = l.
Proof. induction l as [|[] l IH]; simpl; auto; rewrite IH; reflexivity. Qed.

Lemma same_order_mono (f : R -> R) (l : list (tok R)) : mono f -> same_order (fun t => f (val t)) val l.
Proof. intros H t u _ _ _ _; apply H. Qed.

(** Order-based rules under an order-preserving map of the row. *)
Lemma topk_all_mono f k z m : mono f -> topk_all R_ops k (map f z) m = topk_all R_ops k z m.
Proof.
  intro H; unfold topk_all; rewrite toks_map.
  pose proof (topk_all_retok (fun t => f (val t)) val k (toks z m) (same_order_mono f _ H)) as E.
  rewrite retok_id in E; exact E.
Qed.

Lemma topk_exact_mono f k z m : mono f -> topk_exact R_ops k (map f z) m = topk_exact R_ops k z m.
Proof.
  intro H; unfold topk_exact; rewrite toks_map.
  pose proof (topk_exact_retok (fun t => f (val t)) val k (toks z m) (same_order_mono f _ H)) as E.
  rewrite retok_id in E; exact E.
Qed.

Lemma argmax_go_mono f i b bv z : mono f ->
  argmax_go R_ops i b (f bv) (map f z) = argmax_go R_ops i b bv z.
Proof.
  intro H; revert i b bv; induction z; intros; simpl; auto.
  rewrite H; destruct (Rltb bv a); auto.
Qed.

Lemma argmax_mono f z : mono f -> argmax R_ops (map f z) = argmax R_ops z.
Proof. intro H; destruct z; simpl; auto; apply argmax_go_mono; auto. Qed.

(** The maximum of a mapped list. *)
Lemma fold_maxv_mono f l x : mono f ->
  fold_left (maxv R_ops) (map f l) (f x) = f (fold_left (maxv R_ops) l x).
Proof.
  intro H; revert x; induction l; intros; simpl; auto.
  replace (maxv R_ops (f x) (f a)) with (f (maxv R_ops x a)); [apply IHl|].
  unfold maxv; simpl; rewrite H; destruct (Rltb x a); auto.
Qed.

Lemma maxl_mono f l : mono f -> l <> [] -> maxl R_ops (map f l) = f (maxl R_ops l).
Proof. intros H N; destruct l; [congruence|]; simpl; apply fold_maxv_mono; auto. Qed.

Lemma fold_maxv_ge l x : x <= fold_left (maxv R_ops) l x /\ forall y, In y l -> y <= fold_left (maxv R_ops) l x.
Proof.
  revert x; induction l; intros; simpl; [split; [lra | tauto]|].
  unfold maxv at 2 4; simpl; destruct (Rltb x a) eqn:E.
  - apply Rltb_true in E; destruct (IHl a) as [H1 H2]; split; [lra|]; intros y [<-|Hy]; auto.
  - assert (a <= x) by (unfold Rltb in E; destruct Rlt_dec; [discriminate|lra]).
    destruct (IHl x) as [H1 H2]; split; auto; intros y [<-|Hy]; auto; lra.
Qed.

Lemma fold_maxv_in l x : fold_left (maxv R_ops) l x = x \/ In (fold_left (maxv R_ops) l x) l.
Proof.
  revert x; induction l; intros; simpl; auto.
  destruct (IHl (maxv R_ops x a)) as [E|E]; [rewrite E|auto].
  unfold maxv; simpl; destruct (Rltb x a); auto.
Qed.

Lemma maxl_ge l y : In y l -> y <= maxl R_ops l.
Proof.
  destruct l; simpl; [tauto|]; destruct (fold_maxv_ge l r) as [A B]; intros [<-|H]; auto.
Qed.

Lemma maxl_in l : l <> [] -> In (maxl R_ops l) l.
Proof.
  destruct l; [congruence|]; intros _; simpl; destruct (fold_maxv_in l r) as [E|E]; [rewrite E|]; auto.
Qed.

Lemma vmax_mono f ts : mono f -> (exists t, In t ts /\ on t = true) ->
  vmax R_ops (map (retok (fun t => f (val t))) ts) = f (vmax R_ops ts).
Proof.
  intros H [t [Ht Ot]]; unfold vmax.
  assert (E : filter on (map (retok (fun t => f (val t))) ts) = map (retok (fun t => f (val t))) (filter on ts)).
  { clear Ht Ot; induction ts; simpl; auto; destruct (on a); simpl; rewrite IHts; auto. }
  rewrite E, map_map; simpl; rewrite <- map_map with (f := val); apply maxl_mono; auto.
  intro N; apply map_eq_nil in N; assert (In t (filter on ts)) by (apply filter_In; auto); rewrite N in H0; auto.
Qed.

(** No alive token: every rule of the form "on t && ..." keeps nothing. *)
Definition none_on {B} (ts : list (tok B)) := forall t, In t ts -> on t = false.

Lemma none_or_some {B} (ts : list (tok B)) : none_on ts \/ exists t, In t ts /\ on t = true.
Proof.
  induction ts as [|a ts [H|H]]; [left; intros t []| |right].
  - destruct (on a) eqn:E; [right; exists a; split; [left|]; auto|left; intros t [<-|Ht]; auto].
  - destruct H as [t [? ?]]; exists t; split; [right|]; auto.
Qed.

Lemma In_toks_from {B} i (z : list B) m t : In t (toks_from i z m) -> (i <= ix t)%nat.
Proof. revert i m; induction z; simpl; [tauto|]; intros i m [<-|H]; simpl; [lia|]; apply IHz in H; lia. Qed.

Lemma exp_le_iff x y : exp x <= exp y <-> x <= y.
Proof.
  split; intro H.
  - destruct (Rle_lt_dec x y) as [h|h]; auto; apply exp_increasing in h; lra.
  - destruct H as [H|H]; [left; apply exp_increasing, H | right; subst; reflexivity].
Qed.
