#pragma once
// Kernel-space helpers shared by RBF CKA and minibatch CKA.

#include <Eigen/Core>

namespace layerwatch::similarity::detail {

/// Unbiased HSIC estimator of Song et al. (2012) on two n×n Gram matrices (n ≥ 4). The
/// diagonals are ignored.
double unbiased_hsic(const Eigen::MatrixXd& k, const Eigen::MatrixXd& l);

/// Debiased HSIC from feature-space statistics of centred data: ‖XᵀY‖²_F, the row squared
/// norms r, s and n. Equal to n(n−3)·unbiased HSIC.
double debiased_hsic_from_features(double cross_frobenius2, const Eigen::VectorXd& r,
                                   const Eigen::VectorXd& s);

/// Double centring H K H of a symmetric matrix, in place.
void centre_gram(Eigen::MatrixXd& k);

/// U-centring (Székely & Rizzo 2014) in place: the centring under which ⟨K̃, L̃⟩ is the
/// unbiased HSIC up to the factor n(n−3).
void u_centre_gram(Eigen::MatrixXd& k);

/// RBF kernel exp(−d²/(2σ²)) of the rows of centred data X, σ² = threshold² · median(d²) over
/// all n² pairs (diagonal included). Returns false if the median distance is zero.
bool rbf_gram(const Eigen::MatrixXd& centred, double threshold, Eigen::MatrixXd& kernel);

}  // namespace layerwatch::similarity::detail
