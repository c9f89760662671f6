"""torch.hub entry points: `torch.hub.load(repo_dir, 'gru_embedder', source='local')`."""
dependencies = ['torch', 'numpy', 'librosa', 'soundfile', 'soxr', 'tqdm']

from simple_speaker_embedding.hub import gru_embedder  # noqa: F401 -- the entry point torch.hub looks up
