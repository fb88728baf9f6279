"""napari plugin (npe2 manifest ``napari.yaml``): reader for stacks and run folders, a stage
runner widget and a MIP-curve dock. Needs the ``napari`` extra; nothing here holds algorithms."""
