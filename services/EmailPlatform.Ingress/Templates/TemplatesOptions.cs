using System.ComponentModel.DataAnnotations;

namespace EmailPlatform.Ingress.Templates;

/// <summary>Configuration section <c>Ingress:Templates</c>.</summary>
public sealed class TemplatesOptions
{
    public const string SectionName = "Ingress:Templates";

    /// <summary>
    /// The most an email rendered from a template may have: its subject, HTML and text together, in UTF-8 bytes. A render
    /// stops as soon as it writes more, and the send (or preview) is refused with a 422. The emails of one request (a
    /// batch) render at most <see cref="IngressOptions.MaxRequestBodyBytes"/> together, what the request could have carried itself.
    /// </summary>
    [Range(1024, 1L << 30, ErrorMessage = "Ingress:Templates:MaxRenderedBytes must be between 1 KB and 1 GB.")]
    public long MaxRenderedBytes { get; set; } = 4L * 1024 * 1024;
}
