"""simple-speaker-embedding: small, fast GRU speaker embeddings (GE2E) for verification, clustering and diarization.

The public API, imported on first use (so that `sse` can set its thread policy before torch loads):

    from simple_speaker_embedding import gru_embedder
    model = gru_embedder()                                   # the shipped weights, offline
    e = model.embed_utterance("a.wav")                       # (256,) unit vector
    score, same = model.verify("a.wav", "b.wav")             # the model's own decision rule
"""
__version__ = "0.1.0"

_API = {  # name -> module that defines it
    'gru_embedder': 'hub', 'load_checkpoint': 'hub', 'export_checkpoint': 'hub', 'resolve_model': 'hub',
    'export_onnx': 'hub', 'onnx_embed': 'hub', 'average_checkpoints': 'hub', 'example_files': 'hub', 'PRETRAINED': 'hub',
    'GRUEmbedder': 'model', 'ModelHParams': 'model', 'quantize_int8': 'model', 'resolve_device': 'config',
    'MelHParams': 'audio', 'melspec_from_file': 'audio', 'melspec_from_array': 'audio', 'load_audio': 'audio',
    'AudioError': 'audio',
    'StreamingEmbedder': 'stream', 'SpeakerTracker': 'track', 'calibrate_model': 'calibrate',
    # (evaluate() and diarize() share their modules' names: import them from there)
    'make_cohort': 'evaluate', 'to_rttm': 'diarize',
    'TrainConfig': 'config', 'load_recipe': 'config',
    # training: these import fastai
    'preprocess': 'store', 'MelStore': 'store', 'train': 'learner', 'finish_training': 'learner',
}
__all__ = ['__version__', *_API]

def __getattr__(name):
    if name not in _API: raise AttributeError(f"module 'simple_speaker_embedding' has no attribute {name!r}")
    import importlib
    return vars(importlib.import_module(f"{__name__}.{_API[name]}"))[name]

def __dir__(): return sorted(__all__)
