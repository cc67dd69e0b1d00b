(* Floating point: shifting a row by a constant c in every binary format (Flocq).

   The project's statements are proofs/floating.py's (lemma_monotone, lemma_strict, FIRST_MAX_FP):
   y_i = fl(z_i - c); "first-max a n k" says k is the first index of a maximum of a.
   Formats: Flocq's FLT_exp emin prec (any precision > 0, any minimum exponent), so binary16,
   bfloat16, binary32, binary64 and every other binary format at once. Rounding: any monotone
   rounding (Flocq's Valid_rnd) for the real-valued statements (section Reals); for IEEE
   binary_float values (Flocq's BinarySingleNaN, overflow included) every IEEE mode in section
   IEEEAnyMode (section IEEE holds the sign and order facts it uses). The refutations instantiate binary16, bfloat16, binary32 and
   binary64 with round to nearest even, computed by vm_compute on Flocq's Bminus. The guard's
   premise fl(2 max z) > c is the project's (lemma_strict); in the real-valued statement, where
   nothing overflows, it reads 2 max z > c.
*)

From Coq Require Import Reals Lra Lia List SpecFloat.
From Flocq Require Import Core Sterbenz BinarySingleNaN.
From Interval Require Import Tactic.
Import ListNotations.
Open Scope R_scope.

(* ---- first index of a maximum, over rows of any length ----------------------------------------- *)

Section FirstMax.
Context {A : Type} (le lt : A -> A -> Prop) (d : A).

(* first_max l k: k is the first index of a maximum of l (FIRST_MAX_FP in proofs/floating.py) *)
Definition first_max (l : list A) (k : nat) : Prop :=
  (k < length l)%nat /\
  (forall j, (j < length l)%nat -> le (nth j l d) (nth k l d)) /\
  (forall j, (j < k)%nat -> lt (nth j l d) (nth k l d)).

End FirstMax.

Lemma nth_map_in {A B : Type} (f : A -> B) (l : list A) (dA : A) (dB : B) j :
  (j < length l)%nat -> nth j (map f l) dB = f (nth j l dA).
Proof.
  intros H. rewrite (nth_indep (map f l) dB (f dA)) by (rewrite map_length; exact H).
  apply map_nth.
Qed.

Section Shift.
(* A row z of A-values (the logits), mapped through f (the rounded shift) into B-values. *)
Context {A B : Type} (leA ltA : A -> A -> Prop) (leB ltB : B -> B -> Prop) (dA : A) (dB : B).
Context (P : A -> Prop) (f : A -> B).
Hypothesis mono : forall a b, P a -> P b -> leA a b -> leB (f a) (f b).
Hypothesis asym : forall a b, ltB a b -> leB b a -> False.

Lemma first_max_map_weak (z : list A) k k2 :
  Forall P z -> first_max leA ltA dA z k -> first_max leB ltB dB (map f z) k2 ->
  (k2 <= k)%nat /\ (forall j, (j < length z)%nat -> leB (nth j (map f z) dB) (nth k (map f z) dB)).
Proof.
  intros HP [Hk [Hmax _]] [Hk2 [_ Hfirst]].
  rewrite map_length in Hk2.
  assert (Hall : forall j, (j < length z)%nat -> leB (nth j (map f z) dB) (nth k (map f z) dB)).
  { intros j Hj. rewrite !(nth_map_in f z dA dB) by assumption.
    apply mono; try apply Hmax; auto; apply Forall_forall with (l := z); auto; apply nth_In; auto. }
  split; [|exact Hall].
  destruct (Nat.le_gt_cases k2 k) as [H|H]; [exact H|].
  exfalso. apply (asym _ _ (Hfirst k H)). apply Hall. exact Hk2.
Qed.

Lemma first_max_map_exact (z : list A) k :
  Forall P z -> first_max leA ltA dA z k ->
  (forall j, (j < length z)%nat -> ltA (nth j z dA) (nth k z dA) -> ltB (f (nth j z dA)) (f (nth k z dA))) ->
  first_max leB ltB dB (map f z) k.
Proof.
  intros HP Hz strict_at_max. pose proof Hz as [Hk [Hmax Hfirst]].
  split; [rewrite map_length; exact Hk|split].
  - intros j Hj. rewrite map_length in Hj. rewrite !(nth_map_in f z dA dB) by assumption.
    apply mono; try apply Hmax; auto; apply Forall_forall with (l := z); auto; apply nth_In; auto.
  - intros j Hj. rewrite !(nth_map_in f z dA dB) by lia.
    apply strict_at_max; [lia | apply Hfirst; exact Hj].
Qed.

End Shift.

(* ---- every binary format, every monotone rounding: the reals ------------------------------------ *)

Section Reals.
Context (emin prec : Z) {Hprec : Prec_gt_0 prec}.
Context (rnd : R -> Z) {Hrnd : Valid_rnd rnd}.

Notation F := (generic_format radix2 (FLT_exp emin prec)).
Notation fl := (round radix2 (FLT_exp emin prec) rnd).

(* theorem: fp-sub-monotone *)
Theorem fp_sub_monotone_R : forall x y c, x <= y -> fl (x - c) <= fl (y - c).
Proof. intros x y c H. apply round_le; auto with typeclass_instances. lra. Qed.

(* The Sterbenz zone makes the maximum's shift exact and keeps everything below it strictly below. *)
Lemma strict_at_max_R : forall x m c, F x -> F m -> F c ->
  x < m -> m <= c -> 0 < c -> c < 2 * m -> fl (x - c) < fl (m - c).
Proof.
  intros x m c Fx Fm Fc Hxm Hmc Hc Hc2.
  set (u := m - c).
  assert (Fu : F u) by (apply sterbenz; auto with typeclass_instances; lra).
  assert (Hu : fl u = u) by (apply round_generic; auto with typeclass_instances).
  rewrite Hu.
  assert (Fnu : F (- u)) by (apply generic_format_opp; exact Fu).
  assert (Hm0 : 0 < m) by lra.
  (* x <= pred m = m - ulp (pred m) *)
  assert (Hxp : x <= pred radix2 (FLT_exp emin prec) m) by (apply pred_ge_gt; auto with typeclass_instances).
  pose proof (pred_plus_ulp radix2 (FLT_exp emin prec) m Hm0 Fm) as Hpu.
  (* |u| = c - m <= pred m, so ulp u <= ulp (pred m) *)
  assert (Hcm : c - m <= pred radix2 (FLT_exp emin prec) m).
  { apply pred_ge_gt; auto with typeclass_instances. replace (c - m) with (- u) by (unfold u; ring). exact Fnu. lra. }
  assert (Hulp : ulp radix2 (FLT_exp emin prec) u <= ulp radix2 (FLT_exp emin prec) (pred radix2 (FLT_exp emin prec) m)).
  { apply ulp_le; auto with typeclass_instances.
    pose proof (pred_ge_0 radix2 (FLT_exp emin prec) m Hm0 Fm).
    rewrite Rabs_left1 by (unfold u; lra). rewrite Rabs_pos_eq by lra. unfold u; lra. }
  (* pred u = u - ulp u, as u <= 0 *)
  assert (Hpred : pred radix2 (FLT_exp emin prec) u = u - ulp radix2 (FLT_exp emin prec) u).
  { replace u with (- (- u)) at 1 by ring. rewrite pred_opp.
    rewrite succ_eq_pos by (unfold u; lra). rewrite ulp_opp. ring. }
  assert (Hlt : pred radix2 (FLT_exp emin prec) u < u).
  { rewrite Hpred. pose proof (ulp_FLT_gt radix2 emin prec u) as G.
    pose proof (Rabs_pos u). pose proof (bpow_gt_0 radix2 (- prec)).
    assert (0 <= Rabs u * bpow radix2 (- prec)) by (apply Rmult_le_pos; lra). lra. }
  apply Rle_lt_trans with (2 := Hlt).
  rewrite <- (round_generic radix2 (FLT_exp emin prec) rnd (pred radix2 (FLT_exp emin prec) u))
    by (apply generic_format_pred; auto with typeclass_instances).
  apply round_le; auto with typeclass_instances.
  rewrite Hpred. unfold u in *. lra.
Qed.

Definition shift_R (c : R) (v : R) : R := fl (v - c).

(* theorem: fp-argmax-shift-weak *)
Theorem fp_argmax_shift_weak_R : forall (z : list R) c k k2,
  first_max Rle Rlt 0 z k -> first_max Rle Rlt 0 (map (shift_R c) z) k2 ->
  (k2 <= k)%nat /\
  (forall j, (j < length z)%nat -> nth j (map (shift_R c) z) 0 <= nth k (map (shift_R c) z) 0).
Proof.
  intros z c k k2 Hk Hk2.
  apply (first_max_map_weak Rle Rlt Rle Rlt 0 0 (fun _ => True)); auto.
  - intros a b _ _ H. apply fp_sub_monotone_R. exact H.
  - intros a b H1 H2. lra.
  - apply Forall_forall. auto.
Qed.

(* theorem: fp-greedy-exact-guard *)
Theorem fp_greedy_exact_guard_R : forall (z : list R) c k,
  Forall F z -> F c -> first_max Rle Rlt 0 z k ->
  nth k z 0 <= c -> 0 < c -> c < 2 * nth k z 0 ->
  first_max Rle Rlt 0 (map (shift_R c) z) k.
Proof.
  intros z c k Hz Fc Hk Hc Hc0 Hc2.
  apply (first_max_map_exact Rle Rlt Rle Rlt 0 0 F (shift_R c)).
  - intros a b _ _ H. apply fp_sub_monotone_R. exact H.
  - exact Hz.
  - exact Hk.
  - intros j Hj Hlt. unfold shift_R.
    assert (Hk' : (k < length z)%nat) by apply Hk.
    apply strict_at_max_R; auto; apply (proj1 (Forall_forall F z) Hz); apply nth_In; auto.
Qed.

End Reals.

(* ---- IEEE binary_float values (Flocq's BinarySingleNaN): facts about signs, infinities and the
   orders that the every-mode proofs below use ---- *)

Section IEEE.
Context (prec emax : Z) {Hprec : Prec_gt_0 prec} {Hmax : Prec_lt_emax prec emax}.
Notation float := (binary_float prec emax).
Context (mode : mode).

Lemma sign_false_ge (f : float) : Bsign f = false -> 0 <= B2R f.
Proof.
  destruct f as [s|s| |s mf ef Hf]; simpl; intros H; try lra.
  subst s. apply F2R_ge_0. simpl. lia.
Qed.

Lemma sign_true_le (f : float) : Bsign f = true -> B2R f <= 0.
Proof.
  destruct f as [s|s| |s mf ef Hf]; simpl; intros H; try lra.
  subst s. apply F2R_le_0. simpl. lia.
Qed.

(* In the overflow branch of Bminus_correct, the sign is that of the exact difference. *)
Lemma overflow_sign (x c : float) :
  Bsign x = negb (Bsign c) -> B2R x - B2R c <> 0 ->
  (Bsign x = false <-> 0 < B2R x - B2R c).
Proof.
  intros Hs Hne. destruct (Bsign x) eqn:Ex; destruct (Bsign c) eqn:Ec; simpl in Hs; try discriminate.
  - pose proof (sign_true_le x Ex). pose proof (sign_false_ge c Ec). split; intros; [discriminate|lra].
  - pose proof (sign_false_ge x Ex). pose proof (sign_true_le c Ec). split; intros; [lra|reflexivity].
Qed.

Lemma Bleb_minf (y : float) : is_nan y = false -> Bleb (B754_infinity true) y = true.
Proof. destruct y as [[]|[]| |[] ? ? ?]; simpl; easy. Qed.

Lemma Bleb_pinf (y : float) : is_nan y = false -> Bleb y (B754_infinity false) = true.
Proof. destruct y as [[]|[]| |[] ? ? ?]; simpl; easy. Qed.

Lemma Bltb_minf (y : float) : is_finite y = true -> Bltb (B754_infinity true) y = true.
Proof. destruct y as [[]|[]| |[] ? ? ?]; simpl; easy. Qed.

Lemma B2SF_inf (f : float) s : B2SF f = S754_infinity s -> f = B754_infinity s.
Proof. destruct f as [|s'| | ]; simpl; try discriminate. intros H; injection H; intros ->; reflexivity. Qed.

Lemma finite_not_nan (f : float) : is_finite f = true -> is_nan f = false.
Proof. destruct f; simpl; easy. Qed.

Lemma Bltb_ninf (c : float) : is_finite c = true -> Bltb c (B754_infinity true) = false.
Proof. destruct c as [[]|[]| |[] ? ? ?]; simpl; easy. Qed.

(* The project's premise fl(m + m) > c (proofs/floating.py, lemma_strict) gives c < 2m. *)
Lemma B_asym (a b : float) : Bltb a b = true -> Bleb b a = true -> False.
Proof.
  unfold Bltb, Bleb, SFltb, SFleb. pose proof (Bcompare_swap prec emax a b) as S.
  unfold Bcompare in S. rewrite S. destruct (SFcompare (B2SF a) (B2SF b)) as [[]|]; simpl; easy.
Qed.

Definition dflt : float := B754_zero false.
Definition le_R (a b : float) : Prop := B2R a <= B2R b.
Definition lt_R (a b : float) : Prop := B2R a < B2R b.
Definition le_B (a b : float) : Prop := Bleb a b = true.
Definition lt_B (a b : float) : Prop := Bltb a b = true.
Definition shift_B (c v : float) : float := Bminus mode v c.

End IEEE.

(* ---- IEEE binary_float values, every rounding mode (overflow to infinity or to the largest float) ---- *)

Section IEEEAnyMode.
Context (prec emax : Z) {Hprec : Prec_gt_0 prec} {Hmax : Prec_lt_emax prec emax}.
Notation float := (binary_float prec emax).
Context (mode : mode).
Notation fl := (round radix2 (SpecFloat.fexp prec emax) (round_mode mode)).
Local Instance fexp_valid_A : Valid_exp (SpecFloat.fexp prec emax) := FLT_exp_valid (SpecFloat.emin prec emax) prec.
Local Instance fexp_monotone_A : Monotone_exp (SpecFloat.fexp prec emax) := FLT_exp_monotone (SpecFloat.emin prec emax) prec.

(* the largest finite value *)
Let M := bpow radix2 emax - bpow radix2 (emax - prec).

Lemma finite_le_M (f : float) : is_finite f = true -> Rabs (B2R f) <= M.
Proof.
  destruct f as [s|s| |s mf ef Hf]; simpl; intros F; try discriminate;
    try (rewrite Rabs_R0; unfold M; pose proof (bpow_le radix2 (emax - prec) emax ltac:(unfold Prec_gt_0 in Hprec; lia)); lra).
  rewrite <- F2R_Zabs, abs_cond_Zopp. apply (bounded_le_emax_minus_prec prec emax Hprec mf ef Hf).
Qed.

Lemma overflow_finite_value (f : float) s :
  B2SF f = S754_finite s (Z.to_pos (2 ^ prec - 1)) (emax - prec) ->
  is_finite f = true /\ B2R f = if s then - M else M.
Proof.
  destruct f as [s'|s'| |s' mf ef Hf]; simpl; intros E; try discriminate.
  injection E as -> -> ->. split; [reflexivity|].
  unfold F2R; simpl. rewrite Z2Pos.id.
  2: { assert (1 < 2 ^ prec)%Z by (apply Z.pow_gt_1; unfold Prec_gt_0 in Hprec; lia). lia. }
  assert (E : bpow radix2 emax = bpow radix2 prec * bpow radix2 (emax - prec))
    by (rewrite <- bpow_plus; f_equal; ring).
  assert (P : IZR (2 ^ prec) = bpow radix2 prec)
    by (rewrite <- (IZR_Zpower radix2) by (unfold Prec_gt_0 in Hprec; lia); reflexivity).
  unfold M. rewrite E. destruct s; simpl cond_Zopp; rewrite ?opp_IZR, minus_IZR, P; ring.
Qed.

Inductive sub_case_any (x c : float) : Prop :=
  | any_finite : is_finite (Bminus mode x c) = true ->
      B2R (Bminus mode x c) = fl (B2R x - B2R c) ->
      Rabs (fl (B2R x - B2R c)) < bpow radix2 emax -> sub_case_any x c
  | any_pinf : B2SF (Bminus mode x c) = S754_infinity false -> overflow_to_inf mode false = true ->
      bpow radix2 emax <= fl (B2R x - B2R c) -> sub_case_any x c
  | any_minf : B2SF (Bminus mode x c) = S754_infinity true -> overflow_to_inf mode true = true ->
      fl (B2R x - B2R c) <= - bpow radix2 emax -> sub_case_any x c
  | any_pmax : is_finite (Bminus mode x c) = true -> B2R (Bminus mode x c) = M -> overflow_to_inf mode false = false ->
      bpow radix2 emax <= fl (B2R x - B2R c) -> sub_case_any x c
  | any_mmax : is_finite (Bminus mode x c) = true -> B2R (Bminus mode x c) = - M -> overflow_to_inf mode true = false ->
      fl (B2R x - B2R c) <= - bpow radix2 emax -> sub_case_any x c.

Lemma sub_cases_any (x c : float) : is_finite x = true -> is_finite c = true -> sub_case_any x c.
Proof.
  intros Fx Fc. pose proof (Bminus_correct prec emax Hprec Hmax mode x c Fx Fc) as H.
  destruct (Rlt_bool_spec (Rabs (fl (B2R x - B2R c))) (bpow radix2 emax)) as [Hlt|Hge].
  - destruct H as [E [F _]]. apply any_finite; assumption.
  - destruct H as [E Hs]. unfold binary_overflow in E.
    assert (Hne : B2R x - B2R c <> 0).
    { intros H0. rewrite H0, round_0, Rabs_R0 in Hge by auto with typeclass_instances.
      pose proof (bpow_gt_0 radix2 emax). lra. }
    pose proof (overflow_sign prec emax x c Hs Hne) as Hsign.
    destruct (Bsign x) eqn:Ex.
    + assert (Hneg : B2R x - B2R c < 0).
      { destruct (Rlt_or_le (B2R x - B2R c) 0) as [h|h]; auto.
        assert (true = false) by (apply Hsign; lra). discriminate. }
      assert (Hr : fl (B2R x - B2R c) <= - bpow radix2 emax).
      { assert (fl (B2R x - B2R c) <= 0) by
          (rewrite <- (round_0 radix2 (SpecFloat.fexp prec emax) (round_mode mode));
           apply round_le; auto with typeclass_instances; lra).
        rewrite Rabs_left1 in Hge by lra. lra. }
      destruct (overflow_to_inf mode true) eqn:O.
      * apply any_minf; auto.
      * destruct (overflow_finite_value _ _ E) as [F V]. change (if true then - M else M) with (- M) in V.
        apply any_mmax; auto.
    + assert (Hpos : 0 < B2R x - B2R c) by (apply Hsign; reflexivity).
      assert (Hr : bpow radix2 emax <= fl (B2R x - B2R c)).
      { assert (0 <= fl (B2R x - B2R c)) by
          (rewrite <- (round_0 radix2 (SpecFloat.fexp prec emax) (round_mode mode));
           apply round_le; auto with typeclass_instances; lra).
        rewrite Rabs_pos_eq in Hge by lra. lra. }
      destruct (overflow_to_inf mode false) eqn:O.
      * apply any_pinf; auto.
      * destruct (overflow_finite_value _ _ E) as [F V]. change (if false then - M else M) with M in V.
        apply any_pmax; auto.
Qed.

(* theorem: fp-sub-monotone *)
Theorem fp_sub_monotone_B_any_mode : forall x y c : float,
  is_finite x = true -> is_finite y = true -> is_finite c = true ->
  B2R x <= B2R y -> Bleb (Bminus mode x c) (Bminus mode y c) = true.
Proof.
  intros x y c Fx Fy Fc Hxy.
  assert (Hr : fl (B2R x - B2R c) <= fl (B2R y - B2R c))
    by (apply round_le; auto with typeclass_instances; lra).
  pose proof (bpow_gt_0 radix2 emax) as Hb.
  assert (HM : 0 <= M /\ M < bpow radix2 emax).
  { unfold M. pose proof (bpow_gt_0 radix2 (emax - prec)).
    pose proof (bpow_le radix2 (emax - prec) emax ltac:(unfold Prec_gt_0 in Hprec; lia)). lra. }
  assert (LX := finite_le_M _ Fx).
  destruct (sub_cases_any x c Fx Fc) as [FX EX AX|EX OX AX|EX OX AX|FX EX OX AX|FX EX OX AX];
  destruct (sub_cases_any y c Fy Fc) as [FY EY AY|EY OY AY|EY OY AY|FY EY OY AY|FY EY OY AY];
  try (apply Rabs_lt_inv in AX); try (apply Rabs_lt_inv in AY); try (exfalso; lra);
  try congruence;
  try (rewrite (B2SF_inf prec emax _ _ EX); first [apply Bleb_minf | reflexivity];
       apply finite_not_nan; assumption);
  try (rewrite (B2SF_inf prec emax _ _ EY); first [apply Bleb_pinf | reflexivity];
       apply finite_not_nan; assumption);
  try (rewrite (B2SF_inf prec emax _ _ EX), (B2SF_inf prec emax _ _ EY); reflexivity);
  rewrite Bleb_correct by assumption; apply Rle_bool_true.
  all: try (rewrite EX, EY; lra).
  all: try (pose proof (finite_le_M _ FX); pose proof (finite_le_M _ FY);
            apply Rabs_le_inv in H; apply Rabs_le_inv in H0; lra).
Qed.

(* theorem: fp-argmax-shift-weak *)
Theorem fp_argmax_shift_weak_B_any_mode : forall (z : list float) (c : float) k k2,
  Forall (fun v => is_finite v = true) z -> is_finite c = true ->
  first_max (le_R prec emax) (lt_R prec emax) (dflt prec emax) z k ->
  first_max (le_B prec emax) (lt_B prec emax) (dflt prec emax) (map (shift_B prec emax mode c) z) k2 ->
  (k2 <= k)%nat /\
  (forall j, (j < length z)%nat ->
     Bleb (nth j (map (shift_B prec emax mode c) z) (dflt prec emax))
          (nth k (map (shift_B prec emax mode c) z) (dflt prec emax)) = true).
Proof.
  intros z c k k2 Hz Fc Hk Hk2.
  apply (first_max_map_weak (le_R prec emax) (lt_R prec emax) (le_B prec emax) (lt_B prec emax)
           (dflt prec emax) (dflt prec emax) (fun v => is_finite v = true)); auto.
  - intros a b Fa Fb H. apply fp_sub_monotone_B_any_mode; auto.
  - intros a b. apply B_asym.
Qed.

Lemma double_gt_any (m c : float) : is_finite m = true -> is_finite c = true ->
  Bltb c (Bplus mode m m) = true -> B2R c < 2 * B2R m.
Proof.
  intros Fm Fc H.
  assert (Hc : fl (B2R c) = B2R c) by (apply round_generic; auto with typeclass_instances; apply generic_format_B2R).
  destruct (Rlt_or_le (B2R c) (2 * B2R m)) as [h|h]; [exact h|exfalso].
  assert (Hle : fl (B2R m + B2R m) <= B2R c) by (rewrite <- Hc; apply round_le; auto with typeclass_instances; lra).
  pose proof (finite_le_M _ Fc) as LC. apply Rabs_le_inv in LC.
  assert (HM : M < bpow radix2 emax).
  { unfold M. pose proof (bpow_gt_0 radix2 (emax - prec)). lra. }
  pose proof (Bplus_correct prec emax Hprec Hmax mode m m Fm Fm) as P.
  destruct (Rlt_bool_spec (Rabs (fl (B2R m + B2R m))) (bpow radix2 emax)) as [Hlt|Hge].
  - destruct P as [E [F _]]. rewrite Bltb_correct in H by assumption. rewrite E in H.
    revert H; case Rlt_bool_spec; intros; [lra | discriminate].
  - destruct P as [E _]. unfold binary_overflow in E. destruct (Bsign m) eqn:Sm.
    + destruct (overflow_to_inf mode true).
      * rewrite (B2SF_inf prec emax _ _ E) in H. rewrite Bltb_ninf in H by assumption. discriminate.
      * destruct (overflow_finite_value _ _ E) as [F V]. change (if true then - M else M) with (- M) in V.
        rewrite Bltb_correct in H by assumption. rewrite V in H.
        revert H; case Rlt_bool_spec; intros; [lra | discriminate].
    + pose proof (sign_false_ge prec emax m Sm).
      assert (0 <= fl (B2R m + B2R m)) by
        (rewrite <- (round_0 radix2 (SpecFloat.fexp prec emax) (round_mode mode));
         apply round_le; auto with typeclass_instances; lra).
      rewrite Rabs_pos_eq in Hge by lra. lra.
Qed.

Lemma strict_at_max_B_any (x m c : float) :
  is_finite x = true -> is_finite m = true -> is_finite c = true ->
  B2R x < B2R m -> B2R m <= B2R c -> 0 < B2R c -> B2R c < 2 * B2R m ->
  Bltb (Bminus mode x c) (Bminus mode m c) = true.
Proof.
  intros Fx Fm Fc Hxm Hmc Hc Hc2.
  assert (S : fl (B2R x - B2R c) < fl (B2R m - B2R c)).
  { apply (strict_at_max_R (SpecFloat.emin prec emax) prec (round_mode mode)); auto;
    apply generic_format_B2R. }
  assert (Hopp : fl (- B2R c) = - B2R c).
  { apply round_generic; auto with typeclass_instances. apply generic_format_opp, generic_format_B2R. }
  assert (L : - B2R c <= fl (B2R m - B2R c)).
  { rewrite <- Hopp. apply round_le; auto with typeclass_instances. lra. }
  assert (U : fl (B2R m - B2R c) <= 0).
  { rewrite <- (round_0 radix2 (SpecFloat.fexp prec emax) (round_mode mode)).
    apply round_le; auto with typeclass_instances. lra. }
  pose proof (finite_le_M _ Fc) as LC. apply Rabs_le_inv in LC.
  assert (HM : M < bpow radix2 emax).
  { unfold M. pose proof (bpow_gt_0 radix2 (emax - prec)). lra. }
  pose proof (bpow_gt_0 radix2 emax) as Hb.
  destruct (sub_cases_any m c Fm Fc) as [FM EM AM|EM OM AM|EM OM AM|FM EM OM AM|FM EM OM AM]; try lra.
  destruct (sub_cases_any x c Fx Fc) as [FX EX AX|EX OX AX|EX OX AX|FX EX OX AX|FX EX OX AX]; try lra.
  - rewrite Bltb_correct by assumption. rewrite EX, EM. apply Rlt_bool_true. exact S.
  - rewrite (B2SF_inf prec emax _ _ EX). apply Bltb_minf. exact FM.
  - assert (Ex : fl (B2R m - B2R c) = B2R m - B2R c).
    { apply round_generic; auto with typeclass_instances.
      apply sterbenz; auto with typeclass_instances; try apply generic_format_B2R; lra. }
    rewrite Bltb_correct by assumption. rewrite EX, EM. apply Rlt_bool_true. lra.
Qed.

(* theorem: fp-greedy-exact-guard *)
Theorem fp_greedy_exact_guard_B_any_mode : forall (z : list float) (c : float) k,
  Forall (fun v => is_finite v = true) z -> is_finite c = true ->
  first_max (le_R prec emax) (lt_R prec emax) (dflt prec emax) z k ->
  B2R (nth k z (dflt prec emax)) <= B2R c -> 0 < B2R c ->
  Bltb c (Bplus mode (nth k z (dflt prec emax)) (nth k z (dflt prec emax))) = true ->
  first_max (le_B prec emax) (lt_B prec emax) (dflt prec emax) (map (shift_B prec emax mode c) z) k.
Proof.
  intros z c k Hz Fc Hk Hc Hc0 H2.
  assert (Fin : forall j, (j < length z)%nat -> is_finite (nth j z (dflt prec emax)) = true)
    by (intros j Hj; apply (proj1 (Forall_forall _ z) Hz); apply nth_In; exact Hj).
  assert (Hkl : (k < length z)%nat) by apply Hk.
  apply (first_max_map_exact (le_R prec emax) (lt_R prec emax) (le_B prec emax) (lt_B prec emax)
           (dflt prec emax) (dflt prec emax) (fun v => is_finite v = true) (shift_B prec emax mode c)); auto.
  - intros a b Fa Fb H. apply fp_sub_monotone_B_any_mode; auto.
  - intros j Hj Hlt. apply strict_at_max_B_any; auto. apply double_gt_any; auto.
Qed.

End IEEEAnyMode.

(* ---- refutations in binary16, bfloat16, binary32, binary64 (vm_compute on Flocq's Bminus) ---- *)

(* round to nearest even of v is u when v is within half an ulp of u, u in the interior of a binade *)
Lemma ulp_at (emin prec : Z) {Hp : Prec_gt_0 prec} (x : R) (e : Z) :
  bpow radix2 (e - 1) <= x < bpow radix2 e ->
  ulp radix2 (FLT_exp emin prec) x = bpow radix2 (Z.max (e - prec) emin).
Proof.
  intros H. pose proof (bpow_gt_0 radix2 (e - 1)).
  rewrite ulp_neq_0 by lra. unfold cexp. rewrite (mag_unique_pos radix2 x e H). reflexivity.
Qed.

Lemma round_NE_bracket (emin prec : Z) {Hp : Prec_gt_0 prec} (u v : R) (e : Z) :
  generic_format radix2 (FLT_exp emin prec) u ->
  bpow radix2 (e - 1) <= u - bpow radix2 (Z.max (e - prec) emin) -> u < bpow radix2 e ->
  u - bpow radix2 (Z.max (e - prec) emin) / 2 < v < u + bpow radix2 (Z.max (e - prec) emin) / 2 ->
  round radix2 (FLT_exp emin prec) ZnearestE v = u.
Proof.
  intros Fu Hlo Hhi Hv.
  set (q := bpow radix2 (Z.max (e - prec) emin)) in *.
  assert (Hq : 0 < q) by apply bpow_gt_0.
  assert (Hb : 0 < bpow radix2 (e - 1)) by apply bpow_gt_0.
  assert (Hu : ulp radix2 (FLT_exp emin prec) u = q) by (apply ulp_at; auto; split; lra).
  apply Rle_antisym.
  - apply round_N_le_midp; auto with typeclass_instances.
    rewrite succ_eq_pos by lra. rewrite Hu. lra.
  - apply round_N_ge_midp; auto with typeclass_instances.
    rewrite pred_eq_pos by lra. unfold pred_pos.
    assert (Hm : mag radix2 u = e :> Z) by (apply mag_unique_pos; split; lra).
    rewrite Hm, Req_bool_false by lra. rewrite Hu. lra.
Qed.


Section Format.
Context (prec emax : Z) {Hp : Prec_gt_0 prec} {Hm : Prec_lt_emax prec emax}.
Notation float := (binary_float prec emax).
Notation finite v := (is_finite v = true).

(* the float m * 2^e (rounded to nearest even if it is not one) *)
Definition mkf (m e : Z) : float := binary_normalize prec emax Hp Hm mode_NE m e false.

(* the refuted claims, as proofs/floating.py states them *)
Definition claim_sub_strict : Prop := forall x y c : float, finite x -> finite y -> finite c ->
  B2R x < B2R y -> Bltb (Bminus mode_NE x c) (Bminus mode_NE y c) = true.

Definition claim_argmax_exact : Prop := forall (z : list float) (c : float) k,
  Forall (fun v => finite v) z -> finite c -> first_max (le_R prec emax) (lt_R prec emax) (dflt prec emax) z k ->
  first_max (le_B prec emax) (lt_B prec emax) (dflt prec emax) (map (shift_B prec emax mode_NE c) z) k.

(* the same claim restricted to genuine log-probabilities: c = fl(logsumexp z), n = 2 *)
Definition claim_argmax_logprobs : Prop := forall (z0 z1 c : float) k,
  finite z0 -> finite z1 -> finite c ->
  B2R c = round radix2 (SpecFloat.fexp prec emax) ZnearestE (ln (exp (B2R z0) + exp (B2R z1))) ->
  first_max (le_R prec emax) (lt_R prec emax) (dflt prec emax) [z0; z1] k ->
  first_max (le_B prec emax) (lt_B prec emax) (dflt prec emax) (map (shift_B prec emax mode_NE c) [z0; z1]) k.

Lemma refute_sub_strict (x y c : float) : finite x -> finite y -> finite c -> B2R x < B2R y ->
  Bltb (Bminus mode_NE x c) (Bminus mode_NE y c) = false -> ~ claim_sub_strict.
Proof. intros Fx Fy Fc H E C. rewrite (C x y c Fx Fy Fc H) in E. discriminate. Qed.

Lemma first_max_pair (z0 z1 : float) : B2R z0 < B2R z1 ->
  first_max (le_R prec emax) (lt_R prec emax) (dflt prec emax) [z0; z1] 1.
Proof.
  intros H. split; [simpl; lia|split].
  - intros [|[|j]] Hj; unfold le_R; simpl; try lra. simpl in Hj. lia.
  - intros [|j] Hj; [unfold lt_R; simpl; lra | lia].
Qed.

Lemma not_first_max_shifted (z0 z1 c : float) :
  Bltb (Bminus mode_NE z0 c) (Bminus mode_NE z1 c) = false ->
  ~ first_max (le_B prec emax) (lt_B prec emax) (dflt prec emax) (map (shift_B prec emax mode_NE c) [z0; z1]) 1.
Proof. intros E [_ [_ H]]. specialize (H 0%nat ltac:(lia)). unfold lt_B, shift_B in H. simpl in H. congruence. Qed.

Lemma refute_argmax_exact (z0 z1 c : float) : finite z0 -> finite z1 -> finite c -> B2R z0 < B2R z1 ->
  Bltb (Bminus mode_NE z0 c) (Bminus mode_NE z1 c) = false -> ~ claim_argmax_exact.
Proof.
  intros F0 F1 Fc H E C. apply (not_first_max_shifted z0 z1 c E).
  apply C.
  - constructor; [exact F0 | constructor; [exact F1 | constructor]].
  - exact Fc.
  - apply first_max_pair, H.
Qed.

Lemma refute_argmax_logprobs (z0 z1 c : float) : finite z0 -> finite z1 -> finite c -> B2R z0 < B2R z1 ->
  B2R c = round radix2 (SpecFloat.fexp prec emax) ZnearestE (ln (exp (B2R z0) + exp (B2R z1))) ->
  Bltb (Bminus mode_NE z0 c) (Bminus mode_NE z1 c) = false -> ~ claim_argmax_logprobs.
Proof.
  intros F0 F1 Fc H L E C. apply (not_first_max_shifted z0 z1 c E).
  apply C; auto. apply first_max_pair, H.
Qed.

End Format.

Ltac value := rewrite <- SF2R_B2SF; vm_compute B2SF; unfold SF2R, F2R; simpl; lra.


(* ---- bfloat16: precision 8, emax 128 ---- *)
Local Instance bf16_gt : Prec_gt_0 8 := eq_refl.
Local Instance bf16_lt : Prec_lt_emax 8 128 := eq_refl.

(* z = (191/2, 96), c = -5/4: z - c = (387/4, 389/4), both round to 97 *)
Lemma bf16_strict_values : B2R (mkf 8 128 191 (-1)) = 191/2 /\ B2R (mkf 8 128 96 (0)) = 96 /\ B2R (mkf 8 128 (-5) (-2)) = -5/4 /\
  B2R (Bminus mode_NE (mkf 8 128 191 (-1)) (mkf 8 128 (-5) (-2))) = 97 /\ B2R (Bminus mode_NE (mkf 8 128 96 (0)) (mkf 8 128 (-5) (-2))) = 97.
Proof. repeat split; value. Qed.

(* theorem: fp-sub-strict *)
Theorem fp_sub_strict_bf16 : ~ claim_sub_strict 8 128.
Proof.
  apply (refute_sub_strict 8 128 (mkf 8 128 191 (-1)) (mkf 8 128 96 (0)) (mkf 8 128 (-5) (-2))); try reflexivity.
  destruct bf16_strict_values as [-> [-> _]]. lra.
Qed.

(* theorem: fp-argmax-shift-exact *)
Theorem fp_argmax_shift_exact_bf16 : ~ claim_argmax_exact 8 128.
Proof.
  apply (refute_argmax_exact 8 128 (mkf 8 128 191 (-1)) (mkf 8 128 96 (0)) (mkf 8 128 (-5) (-2))); try reflexivity.
  destruct bf16_strict_values as [-> [-> _]]. lra.
Qed.

(* z = (255/512, 1/2), c = fl(logsumexp z) = 153/128: z - c = (-357/512, -89/128), both round to -89/128 *)
Lemma bf16_logprob_values : B2R (mkf 8 128 255 (-9)) = 255/512 /\ B2R (mkf 8 128 1 (-1)) = 1/2 /\ B2R (mkf 8 128 153 (-7)) = 153/128 /\
  B2R (Bminus mode_NE (mkf 8 128 255 (-9)) (mkf 8 128 153 (-7))) = -89/128 /\ B2R (Bminus mode_NE (mkf 8 128 1 (-1)) (mkf 8 128 153 (-7))) = -89/128.
Proof. repeat split; value. Qed.

(* theorem: fp-argmax-shift-exact *)
Theorem fp_argmax_logprobs_bf16 : ~ claim_argmax_logprobs 8 128.
Proof.
  destruct bf16_logprob_values as [E0 [E1 [Ec _]]].
  apply (refute_argmax_logprobs 8 128 (mkf 8 128 255 (-9)) (mkf 8 128 1 (-1)) (mkf 8 128 153 (-7))); try reflexivity.
  - rewrite E0, E1. lra.
  - rewrite E0, E1, Ec. symmetry.
    apply (round_NE_bracket (SpecFloat.emin 8 128) 8 _ _ 1).
    + rewrite <- Ec. apply generic_format_B2R.
    + simpl. lra.
    + simpl. lra.
    + simpl. split; interval with (i_prec 60).
Qed.

(* ---- binary16: precision 11, emax 16 ---- *)
Local Instance b16_gt : Prec_gt_0 11 := eq_refl.
Local Instance b16_lt : Prec_lt_emax 11 16 := eq_refl.

(* z = (-437/32, -1747/128), c = -171/4: z - c = (931/32, 3725/128), both round to 931/32 *)
Lemma b16_strict_values : B2R (mkf 11 16 (-437) (-5)) = -437/32 /\ B2R (mkf 11 16 (-1747) (-7)) = -1747/128 /\ B2R (mkf 11 16 (-171) (-2)) = -171/4 /\
  B2R (Bminus mode_NE (mkf 11 16 (-437) (-5)) (mkf 11 16 (-171) (-2))) = 931/32 /\ B2R (Bminus mode_NE (mkf 11 16 (-1747) (-7)) (mkf 11 16 (-171) (-2))) = 931/32.
Proof. repeat split; value. Qed.

(* theorem: fp-sub-strict *)
Theorem fp_sub_strict_b16 : ~ claim_sub_strict 11 16.
Proof.
  apply (refute_sub_strict 11 16 (mkf 11 16 (-437) (-5)) (mkf 11 16 (-1747) (-7)) (mkf 11 16 (-171) (-2))); try reflexivity.
  destruct b16_strict_values as [-> [-> _]]. lra.
Qed.

(* theorem: fp-argmax-shift-exact *)
Theorem fp_argmax_shift_exact_b16 : ~ claim_argmax_exact 11 16.
Proof.
  apply (refute_argmax_exact 11 16 (mkf 11 16 (-437) (-5)) (mkf 11 16 (-1747) (-7)) (mkf 11 16 (-171) (-2))); try reflexivity.
  destruct b16_strict_values as [-> [-> _]]. lra.
Qed.

(* z = (2047/4096, 1/2), c = fl(logsumexp z) = 611/512: z - c = (-2841/4096, -355/512), both round to -355/512 *)
Lemma b16_logprob_values : B2R (mkf 11 16 2047 (-12)) = 2047/4096 /\ B2R (mkf 11 16 1 (-1)) = 1/2 /\ B2R (mkf 11 16 611 (-9)) = 611/512 /\
  B2R (Bminus mode_NE (mkf 11 16 2047 (-12)) (mkf 11 16 611 (-9))) = -355/512 /\ B2R (Bminus mode_NE (mkf 11 16 1 (-1)) (mkf 11 16 611 (-9))) = -355/512.
Proof. repeat split; value. Qed.

(* theorem: fp-argmax-shift-exact *)
Theorem fp_argmax_logprobs_b16 : ~ claim_argmax_logprobs 11 16.
Proof.
  destruct b16_logprob_values as [E0 [E1 [Ec _]]].
  apply (refute_argmax_logprobs 11 16 (mkf 11 16 2047 (-12)) (mkf 11 16 1 (-1)) (mkf 11 16 611 (-9))); try reflexivity.
  - rewrite E0, E1. lra.
  - rewrite E0, E1, Ec. symmetry.
    apply (round_NE_bracket (SpecFloat.emin 11 16) 11 _ _ 1).
    + rewrite <- Ec. apply generic_format_B2R.
    + simpl. lra.
    + simpl. lra.
    + simpl. split; interval with (i_prec 60).
Qed.

(* ---- binary32: precision 24, emax 128 ---- *)
Local Instance b32_gt : Prec_gt_0 24 := eq_refl.
Local Instance b32_lt : Prec_lt_emax 24 128 := eq_refl.

(* z = (16777215/16777216, 1), c = -1: z - c = (33554431/16777216, 2), both round to 2 *)
Lemma b32_strict_values : B2R (mkf 24 128 16777215 (-24)) = 16777215/16777216 /\ B2R (mkf 24 128 1 (0)) = 1 /\ B2R (mkf 24 128 (-1) (0)) = -1 /\
  B2R (Bminus mode_NE (mkf 24 128 16777215 (-24)) (mkf 24 128 (-1) (0))) = 2 /\ B2R (Bminus mode_NE (mkf 24 128 1 (0)) (mkf 24 128 (-1) (0))) = 2.
Proof. repeat split; value. Qed.

(* theorem: fp-sub-strict *)
Theorem fp_sub_strict_b32 : ~ claim_sub_strict 24 128.
Proof.
  apply (refute_sub_strict 24 128 (mkf 24 128 16777215 (-24)) (mkf 24 128 1 (0)) (mkf 24 128 (-1) (0))); try reflexivity.
  destruct b32_strict_values as [-> [-> _]]. lra.
Qed.

(* theorem: fp-argmax-shift-exact *)
Theorem fp_argmax_shift_exact_b32 : ~ claim_argmax_exact 24 128.
Proof.
  apply (refute_argmax_exact 24 128 (mkf 24 128 16777215 (-24)) (mkf 24 128 1 (0)) (mkf 24 128 (-1) (0))); try reflexivity.
  destruct b32_strict_values as [-> [-> _]]. lra.
Qed.

(* z = (16777215/33554432, 1/2), c = fl(logsumexp z) = 2502211/2097152: z - c = (-23258161/33554432, -1453635/2097152), both round to -1453635/2097152 *)
Lemma b32_logprob_values : B2R (mkf 24 128 16777215 (-25)) = 16777215/33554432 /\ B2R (mkf 24 128 1 (-1)) = 1/2 /\ B2R (mkf 24 128 2502211 (-21)) = 2502211/2097152 /\
  B2R (Bminus mode_NE (mkf 24 128 16777215 (-25)) (mkf 24 128 2502211 (-21))) = -1453635/2097152 /\ B2R (Bminus mode_NE (mkf 24 128 1 (-1)) (mkf 24 128 2502211 (-21))) = -1453635/2097152.
Proof. repeat split; value. Qed.

(* theorem: fp-argmax-shift-exact *)
Theorem fp_argmax_logprobs_b32 : ~ claim_argmax_logprobs 24 128.
Proof.
  destruct b32_logprob_values as [E0 [E1 [Ec _]]].
  apply (refute_argmax_logprobs 24 128 (mkf 24 128 16777215 (-25)) (mkf 24 128 1 (-1)) (mkf 24 128 2502211 (-21))); try reflexivity.
  - rewrite E0, E1. lra.
  - rewrite E0, E1, Ec. symmetry.
    apply (round_NE_bracket (SpecFloat.emin 24 128) 24 _ _ 1).
    + rewrite <- Ec. apply generic_format_B2R.
    + simpl. lra.
    + simpl. lra.
    + simpl. split; interval with (i_prec 60).
Qed.

(* ---- binary64: precision 53, emax 1024 ---- *)
Local Instance b64_gt : Prec_gt_0 53 := eq_refl.
Local Instance b64_lt : Prec_lt_emax 53 1024 := eq_refl.

(* z = (9007199254740991/9007199254740992, 1), c = -1: z - c = (18014398509481983/9007199254740992, 2), both round to 2 *)
Lemma b64_strict_values : B2R (mkf 53 1024 9007199254740991 (-53)) = 9007199254740991/9007199254740992 /\ B2R (mkf 53 1024 1 (0)) = 1 /\ B2R (mkf 53 1024 (-1) (0)) = -1 /\
  B2R (Bminus mode_NE (mkf 53 1024 9007199254740991 (-53)) (mkf 53 1024 (-1) (0))) = 2 /\ B2R (Bminus mode_NE (mkf 53 1024 1 (0)) (mkf 53 1024 (-1) (0))) = 2.
Proof. repeat split; value. Qed.

(* theorem: fp-sub-strict *)
Theorem fp_sub_strict_b64 : ~ claim_sub_strict 53 1024.
Proof.
  apply (refute_sub_strict 53 1024 (mkf 53 1024 9007199254740991 (-53)) (mkf 53 1024 1 (0)) (mkf 53 1024 (-1) (0))); try reflexivity.
  destruct b64_strict_values as [-> [-> _]]. lra.
Qed.

(* theorem: fp-argmax-shift-exact *)
Theorem fp_argmax_shift_exact_b64 : ~ claim_argmax_exact 53 1024.
Proof.
  apply (refute_argmax_exact 53 1024 (mkf 53 1024 9007199254740991 (-53)) (mkf 53 1024 1 (0)) (mkf 53 1024 (-1) (0))); try reflexivity.
  destruct b64_strict_values as [-> [-> _]]. lra.
Qed.

(* z = (9007199254740991/18014398509481984, 1/2), c = fl(logsumexp z) = 5373457197767927/4503599627370496: z - c = (-12486629536330717/18014398509481984, -3121657384082679/4503599627370496), both round to -3121657384082679/4503599627370496 *)
Lemma b64_logprob_values : B2R (mkf 53 1024 9007199254740991 (-54)) = 9007199254740991/18014398509481984 /\ B2R (mkf 53 1024 1 (-1)) = 1/2 /\ B2R (mkf 53 1024 5373457197767927 (-52)) = 5373457197767927/4503599627370496 /\
  B2R (Bminus mode_NE (mkf 53 1024 9007199254740991 (-54)) (mkf 53 1024 5373457197767927 (-52))) = -3121657384082679/4503599627370496 /\ B2R (Bminus mode_NE (mkf 53 1024 1 (-1)) (mkf 53 1024 5373457197767927 (-52))) = -3121657384082679/4503599627370496.
Proof. repeat split; value. Qed.

(* theorem: fp-argmax-shift-exact *)
Theorem fp_argmax_logprobs_b64 : ~ claim_argmax_logprobs 53 1024.
Proof.
  destruct b64_logprob_values as [E0 [E1 [Ec _]]].
  apply (refute_argmax_logprobs 53 1024 (mkf 53 1024 9007199254740991 (-54)) (mkf 53 1024 1 (-1)) (mkf 53 1024 5373457197767927 (-52))); try reflexivity.
  - rewrite E0, E1. lra.
  - rewrite E0, E1, Ec. symmetry.
    apply (round_NE_bracket (SpecFloat.emin 53 1024) 53 _ _ 1).
    + rewrite <- Ec. apply generic_format_B2R.
    + simpl. lra.
    + simpl. lra.
    + simpl. split; interval with (i_prec 100).
Qed.
