#include "op_cases.h"

namespace seqtrain::testing {
namespace {

ValueId parameter(Graph& graph, const std::string& name) { return graph.find_value(name); }

OpCase matmul_case(const std::string& name, Shape a, Shape b, bool ta, bool tb) {
  GraphCase c;
  c.parameters = {{"a", random_tensor(a, 1)}, {"b", random_tensor(b, 2)}};
  c.build = [ta, tb](Graph& g) {
    Attributes attributes;
    attributes.transpose_a = ta;
    attributes.transpose_b = tb;
    attributes.alpha = 0.75f;
    return g.add(OpKind::matmul, {parameter(g, "a"), parameter(g, "b")}, attributes);
  };
  return {name, c};
}

OpCase unary_case(const std::string& name, OpKind op, Attributes attributes, Shape shape,
                  float scale = 1.0f) {
  GraphCase c;
  c.parameters = {{"x", random_tensor(shape, 3, scale)}};
  c.build = [op, attributes](Graph& g) { return g.add(op, {parameter(g, "x")}, attributes); };
  return {name, c};
}

OpCase binary_case(const std::string& name, OpKind op, Shape shape) {
  GraphCase c;
  c.parameters = {{"a", random_tensor(shape, 4)}, {"b", random_tensor(shape, 5)}};
  c.build = [op](Graph& g) { return g.add(op, {parameter(g, "a"), parameter(g, "b")}); };
  return {name, c};
}

Attributes with_activation(Activation activation) {
  Attributes attributes;
  attributes.activation = activation;
  return attributes;
}

OpCase attention_case(const std::string& name, std::int64_t steps, std::int64_t head_dim,
                      std::vector<std::int32_t> key_lengths, float dropout) {
  const std::int64_t batch = static_cast<std::int64_t>(key_lengths.size()), heads = 2;
  GraphCase c;
  c.parameters = {{"qkv", random_tensor({batch, steps, 3, heads, head_dim}, 22, 1.5f)}};
  c.inputs = {{"key_lengths", Tensor::from_vector(key_lengths, {batch})}};
  c.build = [dropout, heads](Graph& g) {
    Attributes attributes;
    attributes.heads = heads;
    attributes.probability = dropout;
    attributes.stream = 11;
    return g.add(OpKind::attention, {parameter(g, "qkv"), g.find_value("key_lengths")},
                 attributes);
  };
  return {name, c};
}

}  // namespace

std::vector<OpCase> all_op_cases() {
  std::vector<OpCase> cases;
  cases.push_back(matmul_case("matmul_nn", {3, 5}, {5, 7}, false, false));
  cases.push_back(matmul_case("matmul_nt", {3, 5}, {7, 5}, false, true));
  cases.push_back(matmul_case("matmul_tn", {5, 3}, {5, 7}, true, false));
  cases.push_back(matmul_case("matmul_tt", {5, 3}, {7, 5}, true, true));
  cases.push_back(matmul_case("matmul_batched", {2, 3, 5}, {2, 5, 4}, false, false));
  cases.push_back(matmul_case("matmul_batched_tt", {2, 5, 3}, {2, 4, 5}, true, true));
  cases.push_back(matmul_case("matmul_shared_right", {2, 3, 5}, {4, 5}, false, true));

  {
    GraphCase c;
    c.parameters = {{"x", random_tensor({2, 3, 5}, 6)}, {"bias", random_tensor({5}, 7)}};
    c.build = [](Graph& g) { return g.add(OpKind::bias_add, {parameter(g, "x"), parameter(g, "bias")}); };
    cases.push_back({"bias_add", c});
  }
  cases.push_back(binary_case("add", OpKind::add, {3, 7}));
  cases.push_back(binary_case("mul", OpKind::mul, {3, 7}));
  {
    Attributes attributes;
    attributes.alpha = -1.5f;
    cases.push_back(unary_case("scale", OpKind::scale, attributes, {4, 3}));
  }
  cases.push_back(unary_case("sigmoid", OpKind::activation, with_activation(Activation::sigmoid), {3, 7}, 2.0f));
  cases.push_back(unary_case("tanh", OpKind::activation, with_activation(Activation::tanh), {3, 7}, 2.0f));
  cases.push_back(unary_case("relu", OpKind::activation, with_activation(Activation::relu), {3, 7}, 2.0f));
  cases.push_back(unary_case("gelu", OpKind::activation, with_activation(Activation::gelu), {3, 7}, 2.0f));
  cases.push_back(unary_case("silu", OpKind::activation, with_activation(Activation::silu), {3, 7}, 2.0f));
  cases.push_back(unary_case("softmax", OpKind::softmax, {}, {3, 9}, 2.0f));
  {
    GraphCase c;
    c.parameters = {{"logits", random_tensor({5, 7}, 8, 2.0f)}};
    Tensor targets = random_ids({5}, 7, 9);
    targets.data<std::int32_t>()[2] = -100;  // ignored row
    c.inputs = {{"targets", targets}};
    c.build = [](Graph& g) {
      return g.add(OpKind::cross_entropy, {parameter(g, "logits"), g.find_value("targets")});
    };
    cases.push_back({"cross_entropy_with_ignored_row", c});
  }
  {
    GraphCase c;
    c.parameters = {{"prediction", random_tensor({4, 3}, 10)}};
    c.inputs = {{"target", random_tensor({4, 3}, 11)}};
    c.build = [](Graph& g) { return g.add(OpKind::mse, {parameter(g, "prediction"), g.find_value("target")}); };
    cases.push_back({"mse", c});
  }
  {
    GraphCase c;
    c.parameters = {{"x", random_tensor({2, 3, 7}, 12, 2.0f)},
                    {"gamma", random_tensor({7}, 13)},
                    {"beta", random_tensor({7}, 14)}};
    c.build = [](Graph& g) {
      return g.add(OpKind::layernorm, {parameter(g, "x"), parameter(g, "gamma"), parameter(g, "beta")});
    };
    cases.push_back({"layernorm", c});
  }
  {
    Attributes attributes;
    attributes.probability = 0.3f;
    attributes.stream = 5;
    cases.push_back(unary_case("dropout", OpKind::dropout, attributes, {6, 7}));
  }
  {
    GraphCase c;
    c.parameters = {{"table", random_tensor({11, 5}, 15)}};
    Tensor ids = random_ids({3, 4}, 11, 16);
    ids.data<std::int32_t>()[5] = ids.data<std::int32_t>()[0];  // a repeated id accumulates
    c.inputs = {{"ids", ids}};
    c.build = [](Graph& g) { return g.add(OpKind::embedding, {parameter(g, "table"), g.find_value("ids")}); };
    cases.push_back({"embedding", c});
  }
  cases.push_back(unary_case("transpose01", OpKind::transpose01, {}, {3, 2, 5}));
  {
    Attributes attributes;
    attributes.shape = {6, 5};
    GraphCase c;
    c.parameters = {{"x", random_tensor({3, 2, 5}, 17)}};
    c.build = [attributes](Graph& g) {
      // A reshape feeding a real op: the alias must carry gradients through.
      ValueId flat = g.add(OpKind::reshape, {parameter(g, "x")}, attributes);
      Attributes tanh = with_activation(Activation::tanh);
      return g.add(OpKind::activation, {flat}, tanh);
    };
    cases.push_back({"reshape", c});
  }
  {
    GraphCase c;
    c.parameters = {{"a", random_tensor({2, 3, 4}, 18)}, {"b", random_tensor({2, 3, 2}, 19)}};
    c.build = [](Graph& g) { return g.add(OpKind::concat_last, {parameter(g, "a"), parameter(g, "b")}); };
    cases.push_back({"concat_last", c});
  }
  for (bool reverse : {false, true}) {
    GraphCase c;
    c.parameters = {{"x", random_tensor({5, 3, 4}, 20)}};
    c.inputs = {{"lengths", Tensor::from_vector(std::vector<std::int32_t>{5, 2, 3}, {3})}};
    c.build = [reverse](Graph& g) {
      Attributes attributes;
      attributes.reverse = reverse;
      return g.add(OpKind::sequence_last, {parameter(g, "x"), g.find_value("lengths")}, attributes);
    };
    cases.push_back({reverse ? "sequence_first_reverse" : "sequence_last", c});
  }
  // Odd T and d, uneven key lengths (one sequence with no keys at all).
  cases.push_back(attention_case("attention_t7_d5", 7, 5, {7, 4}, 0.0f));
  cases.push_back(attention_case("attention_t13_d4", 13, 4, {13, 9, 0}, 0.0f));
  cases.push_back(attention_case("attention_t13_d4_dropout", 13, 4, {13, 9, 0}, 0.25f));
  {
    // One value read by two consumers: autodiff must sum both gradients.
    GraphCase c;
    c.parameters = {{"x", random_tensor({3, 4}, 21)}};
    c.build = [](Graph& g) {
      ValueId x = parameter(g, "x");
      ValueId t = g.add(OpKind::activation, {x}, with_activation(Activation::tanh));
      return g.add(OpKind::mul, {t, x});
    };
    cases.push_back({"shared_value_gradients_sum", c});
  }
  return cases;
}

}  // namespace seqtrain::testing
