"""napari plugin (npe2 manifest ``napari.yaml``; needs the ``napari`` extra; no algorithms here).

- :mod:`~microstructure.napari.reader`: stacks, labels, OME-Zarr images and run folders as lazy
  layers (scale in um, axes z, y, x, phase colours);
- :mod:`~microstructure.napari.widgets`: the stage runner (``Run stage``) and one widget per
  stage family (``Denoise``, ``Segment``, ``MIP``, ...), taking the ``napari.viewer.Viewer``;
- :mod:`~microstructure.napari.forms`: magicgui forms built from the stage parameter models;
- :mod:`~microstructure.napari.mip_dock`: the MIP curves dock;
- :mod:`~microstructure.napari.viewer`: :func:`open_viewer` behind ``microstructure view``.
"""
