"""The probe's answer is data: every field is checked, and nothing is trusted for its type."""

from grader.snapshot import parse_snapshot


def lstm(**changes) -> dict:
    data = {"id": 7, "name": "lstm", "class": "mine.MyLSTM", "keras_type": "LSTM",
            "units": 50, "return_sequences": True, "use_bias": True, "declared_input_shape": [None, None, 1],
            "built": True, "weight_shapes": [[1, 200], [50, 200], [200]], "count_params": 1,
            "output_shape": [None, None, 50]}
    return {**data, **changes}


def model(layers) -> dict:
    return {"defined": True, "summary_calls": [3], "model": {
        "id": 3, "class": "keras.src.models.sequential.Sequential", "keras_model": True,
        "built": True, "input_shape": [None, None, 1], "layers": layers}}


def test_the_probes_keras_type_is_kept_and_weights_are_counted():
    snapshot = parse_snapshot(model([lstm()]))
    layer = snapshot.layers[0]
    assert (layer.keras_type, layer.weight_params, layer.count_params) == ("LSTM", 10400, 1)
    assert snapshot.model.is_keras_model and snapshot.model.input_dim == 1
    assert snapshot.summary_calls == (3,)


def test_fields_of_the_wrong_type_become_unknown():
    layer = parse_snapshot(model([lstm(units="50", return_sequences=1, output_shape="(None, 50)",
                                       weight_shapes=[[1, "x"]])])).layers[0]
    assert (layer.units, layer.return_sequences, layer.output_shape, layer.weight_params) == (None, None, None, None)


def test_only_the_probes_verdict_makes_a_keras_model_or_layer():
    data = {"defined": True, "model": {"id": 1, "class": "keras.src.models.model.Model", "layers": [
        {"id": 2, "class": "keras.src.layers.rnn.lstm.LSTM", "mro": ["keras.src.layers.rnn.lstm.LSTM"]}],
        "mro": ["keras.src.models.sequential.Sequential", "keras.src.models.model.Model"]}}
    snapshot = parse_snapshot(data)
    assert not snapshot.model.is_keras_model and snapshot.layers[0].keras_type is None


def test_probe_errors_are_kept():
    snapshot = parse_snapshot({"probe_error": "NameError: __import__"})
    assert (snapshot.defined, snapshot.model, snapshot.error) == (False, None, "NameError: __import__")
