//! Seeded, stratified train/validation splits, optionally keeping groups (patients) whole.

use crate::model::SplitMix;

/// Splits items of `classes` into (train, validation) index lists: per class, a seeded share
/// `val_fraction` of its groups goes to validation (at least one group when the class has two
/// or more). Items with the same `groups` entry stay together; `None` makes every item its own
/// group. Each list is sorted.
pub fn stratified_split(
    classes: &[usize],
    groups: Option<&[String]>,
    val_fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut rng = SplitMix::new(seed ^ 0x5B11_7000);
    let group_of =
        |i: usize| -> String { groups.map_or_else(|| format!("#{i}"), |g| g[i].clone()) };
    let max_class = classes.iter().copied().max().unwrap_or(0);
    let mut validation = Vec::new();
    let mut train = Vec::new();
    for class in 0..=max_class {
        // Groups of this class in first-seen order.
        let mut names: Vec<String> = Vec::new();
        for (i, _) in classes.iter().enumerate().filter(|(_, c)| **c == class) {
            let g = group_of(i);
            if !names.contains(&g) {
                names.push(g);
            }
        }
        rng.shuffle(&mut names);
        let mut n_val = (names.len() as f64 * val_fraction).round() as usize;
        if names.len() >= 2 && val_fraction > 0.0 {
            n_val = n_val.clamp(1, names.len() - 1);
        }
        let val_groups = &names[..n_val.min(names.len())];
        for (i, _) in classes.iter().enumerate().filter(|(_, c)| **c == class) {
            if val_groups.contains(&group_of(i)) {
                validation.push(i);
            } else {
                train.push(i);
            }
        }
    }
    train.sort_unstable();
    validation.sort_unstable();
    (train, validation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratifies_by_class_and_is_seeded() {
        let classes = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2];
        let (train, val) = stratified_split(&classes, None, 0.4, 1);
        assert_eq!(train.len() + val.len(), classes.len());
        let count = |set: &[usize], c: usize| set.iter().filter(|&&i| classes[i] == c).count();
        assert_eq!((count(&val, 0), count(&val, 1), count(&val, 2)), (2, 2, 1));
        assert_eq!(
            stratified_split(&classes, None, 0.4, 1),
            (train.clone(), val.clone())
        );
        assert_ne!(stratified_split(&classes, None, 0.4, 2).1, val);
    }

    #[test]
    fn keeps_patients_whole() {
        let classes = [2, 2, 2, 2, 0, 0, 0];
        let groups: Vec<String> = ["a", "a", "b", "b", "c", "d", "d"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (train, val) = stratified_split(&classes, Some(&groups), 0.5, 3);
        for (i, j) in [(0, 1), (2, 3), (5, 6)] {
            assert_eq!(val.contains(&i), val.contains(&j));
        }
        assert_eq!(train.len() + val.len(), 7);
        assert!(val.iter().any(|&i| classes[i] == 2) && val.iter().any(|&i| classes[i] == 0));
    }
}
