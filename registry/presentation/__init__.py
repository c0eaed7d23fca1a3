"""What the web pages, the API and the PDFs say alike, below all three and above the models.

Wording of findings (``explain``), pages of rows (``paging``), RFC 9457 problem responses
(``problems``), a certificate's status and reason as people read them (``certificates``) and the
inspection checklist's labels (``inspections``). Nothing here imports ``registry.services``,
``registry.web``, ``registry.api`` or ``registry.pdf`` (the import-linter contracts in
``.importlinter`` hold it), so the web and the API need not import each other and the PDF code
takes data, not services.
"""
