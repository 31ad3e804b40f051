//! Bad fusion input is refused with a typed error naming the list and position; good input
//! of any size gives a full permutation of the candidates.

use tamis_core::fuse::{fuse, FuseError, FusionMethod, Normalization, RankedItem, RankedList};

fn list(items: Vec<RankedItem>) -> RankedList {
    RankedList::new("l", items)
}

fn fuse_sum(lists: &[RankedList]) -> Result<Vec<tamis_core::fuse::FusedItem>, FuseError> {
    fuse(lists, Normalization::MinMax, FusionMethod::Sum)
}

#[test]
fn non_finite_scores_are_refused() {
    for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let lists = [list(vec![
            RankedItem::scored("a", 1.0),
            RankedItem::scored("b", value),
        ])];
        assert!(matches!(
            fuse_sum(&lists),
            Err(FuseError::NonFiniteScore {
                list: 1,
                position: 2,
                ..
            })
        ));
    }
}

#[test]
fn duplicate_ids_within_a_list_are_refused_but_shared_ids_across_lists_agree() {
    let duplicate = [list(vec![
        RankedItem::scored("a", 2.0),
        RankedItem::scored("a", 1.0),
    ])];
    assert_eq!(
        fuse_sum(&duplicate).unwrap_err(),
        FuseError::DuplicateId {
            list: 1,
            first: 1,
            second: 2
        }
    );
    let shared = [
        list(vec![
            RankedItem::scored("a", 2.0),
            RankedItem::scored("b", 1.0),
        ]),
        list(vec![RankedItem::scored("b", 5.0)]),
    ];
    let fused = fuse(&shared, Normalization::None, FusionMethod::Rrf { k: 60.0 }).expect("fused");
    assert_eq!(fused[0].id, "b");
    assert_eq!(fused[0].evidence.positions, vec![Some(2), Some(1)]);
    assert_eq!(fused[0].evidence.agreement, 2);
}

#[test]
fn empty_input_is_refused() {
    assert_eq!(fuse_sum(&[]).unwrap_err(), FuseError::NoLists);
    let lists = [list(vec![RankedItem::scored("a", 1.0)]), list(vec![])];
    assert_eq!(
        fuse_sum(&lists).unwrap_err(),
        FuseError::EmptyList { list: 2 }
    );
}

#[test]
fn ranks_must_be_a_permutation_that_agrees_with_the_scores() {
    let gap = [list(vec![
        RankedItem::ranked("a", 1),
        RankedItem::ranked("b", 3),
    ])];
    assert!(matches!(
        fuse_sum(&gap),
        Err(FuseError::MismatchedRank { rank: 3, .. })
    ));
    let repeated = [list(vec![
        RankedItem::ranked("a", 1),
        RankedItem::ranked("b", 1),
    ])];
    assert!(matches!(
        fuse_sum(&repeated),
        Err(FuseError::MismatchedRank { position: 2, .. })
    ));
    let zero = [list(vec![RankedItem::ranked("a", 0)])];
    assert!(matches!(
        fuse_sum(&zero),
        Err(FuseError::MismatchedRank { rank: 0, .. })
    ));
    let contradicting = [list(vec![
        RankedItem {
            rank: Some(1),
            ..RankedItem::scored("a", 1.0)
        },
        RankedItem {
            rank: Some(2),
            ..RankedItem::scored("b", 9.0)
        },
    ])];
    assert!(matches!(
        fuse_sum(&contradicting),
        Err(FuseError::MismatchedRank { .. })
    ));
    let mixed = [list(vec![
        RankedItem::scored("a", 1.0),
        RankedItem::ranked("b", 2),
    ])];
    assert!(matches!(
        fuse_sum(&mixed),
        Err(FuseError::MixedScores { position: 2, .. })
    ));
}

#[test]
fn rank_only_lists_follow_their_ranks() {
    let lists = [list(vec![
        RankedItem::ranked("b", 2),
        RankedItem::ranked("a", 1),
    ])];
    let fused = fuse(&lists, Normalization::None, FusionMethod::Rrf { k: 60.0 }).expect("fused");
    assert_eq!(fused[0].id, "a");
    assert!((fused[0].score - 1.0 / 61.0).abs() < 1e-12);
}

#[test]
fn invalid_weights_and_parameters_are_refused() {
    let mut weighted = list(vec![RankedItem::scored("a", 1.0)]);
    weighted.weight = f64::NAN;
    assert!(matches!(
        fuse_sum(&[weighted]),
        Err(FuseError::InvalidWeight { list: 1, .. })
    ));
    let lists = [list(vec![RankedItem::scored("a", 1.0)])];
    for method in [
        FusionMethod::Rbc { phi: 1.5 },
        FusionMethod::Rrf { k: -1.0 },
        FusionMethod::LognIsr { sigma: 2.0 },
        FusionMethod::Gmnz { gamma: f64::NAN },
    ] {
        assert!(matches!(
            fuse(&lists, Normalization::None, method),
            Err(FuseError::InvalidParameter { .. })
        ));
    }
}

#[test]
fn a_hundred_thousand_candidates_give_a_full_permutation() {
    let lists: Vec<RankedList> = (0..3)
        .map(|l: u64| {
            list(
                (0..100_000u64)
                    .map(|i| {
                        RankedItem::scored(
                            format!("doc{}", (i * [1, 7919, 104_729][l as usize]) % 100_000),
                            i as f64,
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    for method in [
        FusionMethod::Rrf { k: 60.0 },
        FusionMethod::Mnz,
        FusionMethod::Condorcet,
    ] {
        let fused = fuse(&lists, Normalization::MinMax, method).expect("fused");
        assert_eq!(fused.len(), 100_000);
        let mut ids: Vec<&str> = fused.iter().map(|f| f.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(
            ids.len(),
            100_000,
            "{method:?}: every candidate exactly once"
        );
        assert!(fused.windows(2).all(|w| w[0].score >= w[1].score));
    }
}

#[test]
fn error_messages_carry_positions_not_content() {
    let lists = [list(vec![
        RankedItem::scored("secret-id", 1.0),
        RankedItem::scored("secret-id", 2.0),
    ])];
    let message = fuse_sum(&lists).unwrap_err().to_string();
    assert!(!message.contains("secret"), "{message}");
    assert!(message.contains("list 1"));
}
