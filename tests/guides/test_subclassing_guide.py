"""Keras guide "Making new layers and models via subclassing" (keras-team/keras-io,
guides/making_new_layers_and_models_via_subclassing.py, Keras 3 version), ported to densecore.

Changes from the guide, and only these:
- the import: `import densecore as dc` where the guide has `import keras` (`keras.` -> `dc.`);
- `keras.ops` calls become densecore Tensor operations, since densecore has no `ops` module:
  `ops.matmul(a, b)` -> `a @ b`, `ops.sum(x, axis=0)` -> `x.sum(axis=0)`,
  `ops.mean(x)` -> `x.mean()`, `ops.square(x)` -> `x * x`, `ops.exp(x)` -> `x.exp()`,
  `ops.ones(shape)`/`ops.zeros(shape)` -> `dc.Tensor(np.ones(shape))`/`dc.Tensor(np.zeros(shape))`,
  `keras.activations.relu(x)` -> `dc.functional.relu(x)`,
  `keras.random.normal(shape)` -> a Tensor of numpy normal samples,
  `keras.random.dropout(x, rate)` -> `dc.functional.dropout(x, rate, seed)`;
- the data: the bundled digits (`dc.datasets.load_digits()`, 8x8 images = 64 features, values
  0..16) instead of MNIST (784 features), a small slice, so `784` becomes `64`, `/ 255` becomes `/ 16`;
- the guide's prints become assertions (shapes, counts, that the loss decreases).

One test per section of the guide, in the guide's order.
"""

import numpy as np

import densecore as dc

layers = dc.layers  # the guide's `from keras import layers`


def _digits(n=256):
    (x_train, _), _ = dc.datasets.load_digits()
    return x_train[:n].reshape(n, 64).astype("float32") / 16


# ---- The `Layer` class: the combination of state (weights) and some computation ----------
def test_layer_class_state_and_computation():
    class Linear(dc.layers.Layer):
        def __init__(self, units=32, input_dim=32):
            super().__init__()
            self.w = self.add_weight(
                shape=(input_dim, units),
                initializer="random_normal",
                trainable=True,
            )
            self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

        def call(self, inputs):
            return inputs @ self.w + self.b  # ops.matmul(inputs, self.w) + self.b

    x = dc.Tensor(np.ones((2, 2)))  # ops.ones((2, 2))
    linear_layer = Linear(4, 2)
    y = linear_layer(x)
    assert y.shape == (2, 4)  # the guide prints y: a (2, 4) tensor

    assert linear_layer.weights == [linear_layer.w, linear_layer.b]


# ---- Layers can have non-trainable weights -----------------------------------------------
def test_layers_can_have_non_trainable_weights():
    class ComputeSum(dc.layers.Layer):
        def __init__(self, input_dim):
            super().__init__()
            self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

        def call(self, inputs):
            self.total.assign_add(inputs.sum(axis=0))  # ops.sum(inputs, axis=0)
            return self.total

    x = dc.Tensor(np.ones((2, 2)))
    my_sum = ComputeSum(2)
    y = my_sum(x)
    np.testing.assert_array_equal(y.numpy(), [2.0, 2.0])  # the guide prints [2. 2.]
    y = my_sum(x)
    np.testing.assert_array_equal(y.numpy(), [4.0, 4.0])  # then [4. 4.]

    assert len(my_sum.weights) == 1
    assert len(my_sum.non_trainable_weights) == 1
    # It's not included in the trainable weights:
    assert my_sum.trainable_weights == []


# ---- Best practice: deferring weight creation until the shape of the inputs is known -----
def test_deferring_weight_creation_until_input_shape_is_known():
    class Linear(dc.layers.Layer):
        def __init__(self, units=32, input_dim=32):
            super().__init__()
            self.w = self.add_weight(
                shape=(input_dim, units),
                initializer="random_normal",
                trainable=True,
            )
            self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

        def call(self, inputs):
            return inputs @ self.w + self.b

    class Linear(dc.layers.Layer):  # noqa: F811  (the guide redefines it)
        def __init__(self, units=32):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(
                shape=(input_shape[-1], self.units),
                initializer="random_normal",
                trainable=True,
            )
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

        def call(self, inputs):
            return inputs @ self.w + self.b

    x = dc.Tensor(np.ones((2, 2)))
    # At instantiation, we don't know on what inputs this is going to get called
    linear_layer = Linear(32)
    assert linear_layer.weights == []

    # The layer's weights are created dynamically the first time the layer is called
    y = linear_layer(x)
    assert y.shape == (2, 32)
    assert [tuple(w.shape) for w in linear_layer.weights] == [(2, 32), (32,)]


class Linear(dc.layers.Layer):
    """The guide's lazy Linear, shared by the sections that follow it."""

    def __init__(self, units=32):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer="random_normal",
            trainable=True,
        )
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

    def call(self, inputs):
        return inputs @ self.w + self.b


# ---- Layers are recursively composable ---------------------------------------------------
def test_layers_are_recursively_composable():
    class MLPBlock(dc.layers.Layer):
        def __init__(self):
            super().__init__()
            self.linear_1 = Linear(32)
            self.linear_2 = Linear(32)
            self.linear_3 = Linear(1)

        def call(self, inputs):
            x = self.linear_1(inputs)
            x = dc.functional.relu(x)  # keras.activations.relu(x)
            x = self.linear_2(x)
            x = dc.functional.relu(x)
            return self.linear_3(x)

    mlp = MLPBlock()
    y = mlp(dc.Tensor(np.ones((3, 64))))  # The first call to the `mlp` will create the weights
    assert y.shape == (3, 1)
    assert len(mlp.weights) == 6  # the guide prints "weights: 6"
    assert len(mlp.trainable_weights) == 6  # and "trainable weights: 6"


# ---- Backend-agnostic layers and backend-specific layers ---------------------------------
# Cut: this section only shows JAX-, TensorFlow- and PyTorch-specific versions of `Linear` in
# prose; densecore has one backend API (Tensor operations), so there is nothing to run.


# ---- The `add_loss()` method -------------------------------------------------------------
class ActivityRegularizationLayer(dc.layers.Layer):
    # A layer that creates an activity regularization loss
    def __init__(self, rate=1e-2):
        super().__init__()
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * inputs.mean())  # ops.mean(inputs)
        return inputs


def test_add_loss_method():
    class OuterLayer(dc.layers.Layer):
        def __init__(self):
            super().__init__()
            self.activity_reg = ActivityRegularizationLayer(1e-2)

        def call(self, inputs):
            return self.activity_reg(inputs)

    layer = OuterLayer()
    assert len(layer.losses) == 0  # No losses yet since the layer has never been called

    _ = layer(dc.Tensor(np.zeros((1, 1))))
    assert len(layer.losses) == 1  # We created one loss value

    # `layer.losses` gets reset at the start of each __call__
    _ = layer(dc.Tensor(np.zeros((1, 1))))
    assert len(layer.losses) == 1  # This is the loss created during the call above


# (the same section, continued)
def test_add_loss_method_kernel_regularizer_losses():
    class OuterLayerWithKernelRegularizer(dc.layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = dc.layers.Dense(32, kernel_regularizer=dc.regularizers.l2(1e-3))

        def call(self, inputs):
            return self.dense(inputs)

    layer = OuterLayerWithKernelRegularizer()
    _ = layer(dc.Tensor(np.zeros((1, 1))))

    # This is `1e-3 * sum(layer.dense.kernel ** 2)`,
    # created by the `kernel_regularizer` above.
    assert len(layer.losses) == 1
    kernel = layer.dense.kernel.numpy()
    np.testing.assert_allclose(float(layer.losses[0].item()), 1e-3 * np.sum(kernel**2), rtol=1e-5)


def test_add_loss_works_with_fit():
    inputs = dc.Input(shape=(3,))
    outputs = ActivityRegularizationLayer()(inputs)
    model = dc.Model(inputs, outputs)

    # If there is a loss passed in `compile`, the regularization
    # losses get added to it
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.random.random((2, 3)), np.random.random((2, 3)))

    # It's also possible not to pass any loss in `compile`,
    # since the model already has a loss to minimize, via the `add_loss`
    # call during the forward pass!
    model.compile(optimizer="adam")
    model.fit(np.random.random((2, 3)), np.random.random((2, 3)))


# ---- You can optionally enable serialization on your layers ------------------------------
def test_optionally_enable_serialization():
    class Linear(dc.layers.Layer):
        def __init__(self, units=32):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(
                shape=(input_shape[-1], self.units),
                initializer="random_normal",
                trainable=True,
            )
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

        def call(self, inputs):
            return inputs @ self.w + self.b

        def get_config(self):
            return {"units": self.units}

    # Now you can recreate the layer from its config:
    layer = Linear(64)
    config = layer.get_config()
    assert config == {"units": 64}  # the guide prints {'units': 64}
    new_layer = Linear.from_config(config)
    assert new_layer.units == 64

    class Linear(dc.layers.Layer):  # noqa: F811
        def __init__(self, units=32, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(
                shape=(input_shape[-1], self.units),
                initializer="random_normal",
                trainable=True,
            )
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

        def call(self, inputs):
            return inputs @ self.w + self.b

        def get_config(self):
            config = super().get_config()
            config.update({"units": self.units})
            return config

    layer = Linear(64)
    config = layer.get_config()
    assert config["units"] == 64 and config["name"] == layer.name  # the guide prints name, units...
    new_layer = Linear.from_config(config)
    assert new_layer.units == 64 and new_layer.name == layer.name


# ---- Privileged `training` argument in the `call()` method -------------------------------
def test_privileged_training_argument():
    class CustomDropout(dc.layers.Layer):
        def __init__(self, rate, **kwargs):
            super().__init__(**kwargs)
            self.rate = rate

        def call(self, inputs, training=None):
            if training:
                # keras.random.dropout(inputs, rate=self.rate)
                return dc.functional.dropout(inputs, rate=self.rate, seed=1337)
            return inputs

    # The guide only defines the layer; that fit/predict pass `training` is what it says.
    layer = CustomDropout(0.5)
    x = dc.Tensor(np.ones((4, 8)))
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())
    dropped = layer(x, training=True).numpy()
    assert set(np.unique(dropped)) <= {0.0, 2.0} and (dropped == 0).any()


# ---- Privileged `mask` argument in the `call()` method -----------------------------------
# Cut: masks come from Embedding(mask_zero=True) and Masking for timeseries; densecore has no
# sequence layers (no RNNs, no Embedding), and the section has no code.


# ---- The `Model` class -------------------------------------------------------------------
# Cut: the section's only code is a ResNet sketch (not runnable in the guide itself: `dataset
# = ...`) built from ResNet blocks and GlobalAveragePooling2D, convolution layers densecore
# deliberately lacks.


# ---- Putting it all together: an end-to-end example --------------------------------------
class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = z_mean.shape[0]  # ops.shape(z_mean)[0]
        dim = z_mean.shape[1]
        epsilon = dc.Tensor(np.random.normal(size=(batch, dim)).astype("float32"))  # keras.random.normal
        return z_mean + (0.5 * z_log_var).exp() * epsilon  # ops.exp(0.5 * z_log_var)


class Encoder(layers.Layer):
    """Maps digits to a triplet (z_mean, z_log_var, z)."""

    def __init__(self, latent_dim=32, intermediate_dim=64, name="encoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_mean = layers.Dense(latent_dim)
        self.dense_log_var = layers.Dense(latent_dim)
        self.sampling = Sampling()

    def call(self, inputs):
        x = self.dense_proj(inputs)
        z_mean = self.dense_mean(x)
        z_log_var = self.dense_log_var(x)
        z = self.sampling((z_mean, z_log_var))
        return z_mean, z_log_var, z


class Decoder(layers.Layer):
    """Converts z, the encoded digit vector, back into a readable digit."""

    def __init__(self, original_dim, intermediate_dim=64, name="decoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_output = layers.Dense(original_dim, activation="sigmoid")

    def call(self, inputs):
        x = self.dense_proj(inputs)
        return self.dense_output(x)


class VariationalAutoEncoder(dc.Model):
    """Combines the encoder and decoder into an end-to-end model for training."""

    def __init__(self, original_dim, intermediate_dim=64, latent_dim=32, name="autoencoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.original_dim = original_dim
        self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
        self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

    def call(self, inputs):
        z_mean, z_log_var, z = self.encoder(inputs)
        reconstructed = self.decoder(z)
        # Add KL divergence regularization loss.
        kl_loss = -0.5 * (z_log_var - z_mean * z_mean - z_log_var.exp() + 1).mean()
        self.add_loss(kl_loss)
        return reconstructed


def test_end_to_end_variational_autoencoder():
    x_train = _digits(512)  # digits instead of MNIST: 64 features instead of 784

    original_dim = 64
    vae = VariationalAutoEncoder(64, 64, 32)

    optimizer = dc.optimizers.Adam(learning_rate=1e-3)
    vae.compile(optimizer, loss=dc.losses.MeanSquaredError())

    history = vae.fit(x_train, x_train, epochs=2, batch_size=64, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 2 and np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]  # the guide's log shows the loss going down
    assert vae.predict(x_train[:3], verbose=0).shape == (3, original_dim)
