# Overrides PyInstaller's contributed hook for `webrtcvad`, which copies the metadata of a distribution
# named `webrtcvad` and fails here: the module comes from the `webrtcvad-wheels` distribution.
# The module is a single compiled extension; nothing else needs collecting.
from PyInstaller.utils.hooks import copy_metadata

datas = copy_metadata("webrtcvad-wheels")
