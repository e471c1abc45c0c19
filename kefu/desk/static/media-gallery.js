"use strict";
// Shared by the desk (desk.js) and the tickets page (tickets.js).
// Photos and files the customer sent (issue 13): a thumbnail opens the full
// picture; voice, video and files open in a new tab; what could not be
// downloaded shows the platform's reference as plain text (never a link).
const MEDIA_KIND = {image: "图片", voice: "语音", video: "视频", file: "文件"};
function mediaGallery(items) {
  if (!items.length) return [Object.assign(document.createElement("span"), {textContent: "无"})];
  return items.map((m) => {
    const when = (m.created_at || "").slice(5, 16).replace("T", " ");
    if (!m.url) {
      return Object.assign(document.createElement("span"), {className: "media-missing",
        textContent: `${MEDIA_KIND[m.kind] || "文件"}（未能下载）${when} ${m.source_ref || ""}`});
    }
    const a = Object.assign(document.createElement("a"), {href: m.url, target: "_blank", rel: "noopener",
      className: "media-item", title: `${MEDIA_KIND[m.kind] || "文件"} · ${when}`});
    if (m.kind === "image") {
      a.appendChild(Object.assign(document.createElement("img"), {src: m.url, alt: `客户图片 ${when}`, loading: "lazy"}));
    } else {
      a.textContent = `${MEDIA_KIND[m.kind] || "文件"} ${when}`;
    }
    return a;
  });
}
