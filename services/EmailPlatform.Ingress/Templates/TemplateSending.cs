using EmailPlatform.Ingress.Sending;
using EmailPlatform.Ingress.Storage;
using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EmailPlatform.Ingress.Templates;

/// <summary>
/// Turns a send with <c>template: {id, variables}</c> into the plain send it stands for, at accept: the rendered subject,
/// HTML and text, unless the request gives its own. A text part is derived from the HTML when there is none.
/// </summary>
internal sealed class TemplateSending(IngressDbContext db, TemplateRenderer renderer)
{
    public async Task<(SendEmailRequest? Request, ProblemHttpResult? Problem)> ApplyAsync(SendEmailRequest request, CancellationToken cancellationToken)
    {
        if (request.Template is not { } reference)
        {
            return (request, null);
        }

        if (string.IsNullOrWhiteSpace(reference.Id))
        {
            return (null, ApiProblems.Problem(StatusCodes.Status422UnprocessableEntity, ApiProblems.MissingRequiredField,
                "The request is invalid.", "The template.id field is required: a template id or alias, optionally pinned ('welcome@2')."));
        }

        var (_, version) = await TemplateStore.FindAsync(db, reference.Id, published: true, cancellationToken);
        if (version is null)
        {
            return (null, TemplateProblems.NotFound(reference.Id, published: true));
        }

        var parts = new TemplateParts(request.Subject is null, request.Html is null, request.Text is null);
        var outcome = renderer.Render(version, reference.Variables, parts, "template.variables");
        if (outcome.Rendered is not { } rendered)
        {
            return (null, TemplateProblems.Unrenderable(outcome.Errors));
        }

        var html = request.Html ?? rendered.Html;
        return (request with
        {
            Template = null,
            Subject = request.Subject ?? rendered.Subject,
            Html = html,
            Text = request.Text ?? rendered.Text ?? (string.IsNullOrEmpty(html) ? null : HtmlText.From(html)),
        }, null);
    }
}
