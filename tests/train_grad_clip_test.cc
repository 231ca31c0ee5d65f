// Global-norm gradient clipping against norms computed by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "seqtrain/backend.h"
#include "train/grad_clip.h"

namespace seqtrain {
namespace {

// Gradients [3, 4] and [12]: the global norm is sqrt(9 + 16 + 144) = 13.
struct TwoGradients {
  std::unique_ptr<Backend> backend = make_serial_backend();
  ParameterStore store{*backend};

  TwoGradients() {
    store.add("a", {2}, true);
    store.add("b", {1}, false);
    set_grad("a", {3.0f, 4.0f});
    set_grad("b", {12.0f});
  }
  void set_grad(const std::string& name, const std::vector<float>& values) {
    Parameter& parameter = store.get(name);
    backend->copy_from_host(Tensor::from_vector(values, parameter.grad.shape()), parameter.grad);
  }
  std::vector<float> grad(const std::string& name) {
    return store.grad_to_host(store.get(name)).to_vector();
  }
};

TEST(GradientClipping, GlobalNormIsTheL2NormOverAllGradients) {
  TwoGradients model;
  GradientNorm result = global_gradient_norm(model.store);
  EXPECT_DOUBLE_EQ(result.norm, 13.0);
  EXPECT_TRUE(result.finite);
  EXPECT_TRUE(result.non_finite_parameters.empty());
}

TEST(GradientClipping, LargeNormIsScaledDownToMaxNorm) {
  TwoGradients model;
  GradientNorm result = clip_gradients_by_global_norm(model.store, 6.5);
  EXPECT_DOUBLE_EQ(result.norm, 13.0);  // the norm before clipping
  const double coefficient = 6.5 / (13.0 + 1e-6);
  EXPECT_FLOAT_EQ(model.grad("a")[0], static_cast<float>(3.0 * coefficient));
  EXPECT_FLOAT_EQ(model.grad("a")[1], static_cast<float>(4.0 * coefficient));
  EXPECT_FLOAT_EQ(model.grad("b")[0], static_cast<float>(12.0 * coefficient));
  EXPECT_NEAR(global_gradient_norm(model.store).norm, 6.5, 1e-5);
}

TEST(GradientClipping, SmallNormAndDisabledClippingLeaveGradientsAlone) {
  TwoGradients model;
  EXPECT_DOUBLE_EQ(clip_gradients_by_global_norm(model.store, 13.5).norm, 13.0);
  EXPECT_EQ(model.grad("a"), (std::vector<float>{3.0f, 4.0f}));
  EXPECT_EQ(model.grad("b"), (std::vector<float>{12.0f}));
  EXPECT_DOUBLE_EQ(clip_gradients_by_global_norm(model.store, 0.0).norm, 13.0);
  EXPECT_EQ(model.grad("b"), (std::vector<float>{12.0f}));
}

TEST(GradientClipping, NonFiniteGradientIsReportedWithItsParameterAndNotScaled) {
  TwoGradients model;
  model.set_grad("b", {std::numeric_limits<float>::quiet_NaN()});
  GradientNorm result = clip_gradients_by_global_norm(model.store, 1.0);
  EXPECT_FALSE(result.finite);
  EXPECT_EQ(result.non_finite_parameters, (std::vector<std::string>{"b"}));
  EXPECT_EQ(model.grad("a"), (std::vector<float>{3.0f, 4.0f}));

  model.set_grad("b", {1.0f});
  model.set_grad("a", {std::numeric_limits<float>::infinity(), 0.0f});
  result = global_gradient_norm(model.store);
  EXPECT_FALSE(result.finite);
  EXPECT_EQ(result.non_finite_parameters, (std::vector<std::string>{"a"}));
}

}  // namespace
}  // namespace seqtrain
