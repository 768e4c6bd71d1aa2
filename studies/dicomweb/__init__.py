"""DICOMweb (STOW-RS, QIDO-RS, WADO-RS) for standard viewers such as OHIF; mounted under /dicomweb/."""
