"""What every stage uses: the typed configs (`config`), the one user-facing error
(`errors`), atomic outputs (`atomic_files`) and the Session options (`session`)."""
